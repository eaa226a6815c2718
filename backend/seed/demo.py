"""The `demo` gym: locations, plans, staff, the scripted members Ana and Luis, then history."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.passwords import generate_password, hash_password
from backend.billing.models import Plan, plan_locations
from backend.cfdi.demo_csd import DEMO_NAME, DEMO_RFC, demo_csd
from backend.cfdi.profile import save_profile
from backend.classes.models import ClassSchedule, ClassType, class_type_plans
from backend.classes.schedule import materialize_sessions
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import Member
from backend.payments.models import PaymentMethod
from backend.referrals.models import DEFAULT_TIERS, ReferralProgram
from backend.seed.history import (
    ANA_PHONE,
    HISTORY_DAYS,
    LUIS_PHONE,
    load_context,
    local,
    paid_invoice,
    seed_members,
    utc,
)
from backend.seed.model import GymContext, InvoiceDraft, MemberDraft, SeedResult, Visit
from backend.seed.persist import persist
from backend.selfservice.demo import seed_demo_selfservice
from backend.settings import get_settings

DEMO_SLUG = "demo"
OWNER_EMAIL = "owner@gogym.demo"
FRONT_DESK_EMAIL = "recepcion@gogym.demo"  # role "staff"

# code, name, price in centavos (IVA included), interval, offered to prospects, all locations.
# Básico covers Centro only; the day pass is what free trials are made of.
DEMO_PLANS = (
    ("basico", "Básico", 49900, "month", True, False),
    ("premium", "Premium", 79900, "month", True, True),
    ("anual", "Anual", 799000, "year", True, True),
    ("pase-dia", "Pase de día", 0, "day", False, True),
)
WEEK_HOURS: dict[str, list[str] | None] = {
    "mon": ["06:00", "22:00"],
    "tue": ["06:00", "22:00"],
    "wed": ["06:00", "22:00"],
    "thu": ["06:00", "22:00"],
    "fri": ["06:00", "22:00"],
    "sat": ["07:00", "15:00"],
    "sun": ["08:00", "14:00"],
}


async def _create_demo_fiscal_profile(session: AsyncSession, gym_id: int) -> None:
    """CFDI issuer data: the CSD from CFDI_CSD_* or a self-made test one; PAC_PROVIDER."""
    settings = get_settings()
    await save_profile(
        session,
        settings,
        gym_id,
        rfc=DEMO_RFC,
        legal_name=DEMO_NAME,
        regimen="601",
        postal_code="06000",
        pac_provider=settings.pac_provider,
        pac_environment=settings.pac_environment,
        pac_credentials={
            "username": settings.pac_username,
            "password": settings.pac_password,
            "token": settings.pac_token,
        },
        csd=demo_csd(settings),
        actor="seed",
    )


# --- public API ---------------------------------------------------------------------------


async def seed_demo(
    session: AsyncSession, *, members: int = 300, rng_seed: int = 7, now: datetime | None = None
) -> SeedResult:
    """Create the `demo` gym, its staff, Ana and Luis and `members` generated members, once."""
    existing = await session.scalar(select(Gym.id).where(Gym.slug == DEMO_SLUG))
    if existing is not None:
        owner = await session.scalar(
            select(StaffUser.email)
            .where(StaffUser.gym_id == existing, StaffUser.role == "owner")
            .order_by(StaffUser.id)
            .limit(1)
        )
        return SeedResult(existing, owner, None, 0, 0, 0)

    now = utc(now)
    gym_id = await _create_demo_gym(session, now)
    password = generate_password()
    await _create_demo_staff(session, gym_id, password, now - timedelta(days=HISTORY_DAYS + 1))
    await _create_demo_classes(session, gym_id, now)
    await _create_demo_fiscal_profile(session, gym_id)
    await seed_demo_selfservice(session, gym_id, now)
    await _create_demo_referral_program(session, gym_id, now)
    ctx = await load_context(session, gym_id)
    scripted = await persist(session, ctx, [_ana(ctx, now), _luis(ctx, now)])
    await _save_ana_card(session, gym_id, now)
    generated = await seed_members(session, gym_id, members=members, rng_seed=rng_seed, now=now)
    return SeedResult(
        gym_id=gym_id,
        owner_email=OWNER_EMAIL,
        owner_password=password,
        members=generated.members,
        check_ins=scripted.check_ins + generated.check_ins,
        invoices=scripted.invoices + generated.invoices,
    )


# --- demo gym -----------------------------------------------------------------------------


async def _save_ana_card(session: AsyncSession, gym_id: int, now: datetime) -> None:
    """Ana pays by saved card (charged by the simulated provider); Luis has none."""
    ana = await session.scalar(
        select(Member.id).where(Member.gym_id == gym_id, Member.phone == ANA_PHONE)
    )
    assert ana is not None
    session.add(
        PaymentMethod(
            gym_id=gym_id,
            member_id=ana,
            provider="fake",
            provider_customer_id="demo-customer-ana",
            provider_card_id="demo-card-ana",
            brand="visa",
            last4="4242",
            exp_month=12,
            exp_year=now.year + 3,
            is_default=True,
            created_at=now - timedelta(days=90),
        )
    )
    await session.flush()


async def _create_demo_referral_program(session: AsyncSession, gym_id: int, now: datetime) -> None:
    """ "Trae a un amigo": $200 of credit per converted friend (more at the ambassador
    levels), 50% off the friend's first month; members who paid 30+ days may invite."""
    session.add(
        ReferralProgram(
            gym_id=gym_id,
            name="Trae a un amigo",
            active=True,
            referrer_reward="credit",
            referrer_value=20000,
            referred_reward="first_month_discount",
            referred_value=50,
            min_paid_days=30,
            code_valid_days=90,
            conversion_days=30,
            monthly_cap_per_referrer=5,
            review_above_cents=50000,
            tiers=[dict(t) for t in DEFAULT_TIERS],
            terms="Válido para personas que nunca han sido socias o que dejaron de serlo "
            "hace más de 90 días.",
            created_at=now - timedelta(days=60),
            updated_at=now - timedelta(days=60),
        )
    )
    await session.flush()


async def _create_demo_gym(session: AsyncSession, now: datetime) -> int:
    founded = now - timedelta(days=HISTORY_DAYS + 1)
    gym = Gym(
        name="GoGym Demo",
        slug=DEMO_SLUG,
        whatsapp_number="+14155238886",
        timezone="America/Mexico_City",
        checkin_policy="verify",
        enrollment_open=True,
        phone="+525555555555",
        created_at=founded,
    )
    session.add(gym)
    await session.flush()
    centro = Location(
        gym_id=gym.id,
        slug="centro",
        name="GoGym Centro",
        address="Av. 5 de Mayo 32, Centro Histórico, Cuauhtémoc, 06000 Ciudad de México, CDMX",
        latitude=19.4326,
        longitude=-99.1332,
        radius_m=150,
        hours=dict(WEEK_HOURS),
    )
    norte = Location(
        gym_id=gym.id,
        slug="norte",
        name="GoGym Norte",
        address="Av. Montevideo 363, Lindavista, Gustavo A. Madero, 07300 Ciudad de México, CDMX",
        latitude=19.4890,
        longitude=-99.1300,
        radius_m=150,
        hours=dict(WEEK_HOURS),
    )
    plans = [
        Plan(
            gym_id=gym.id,
            code=code,
            name=name,
            price_cents=cents,
            interval=interval,
            interval_count=1,
            public=public,
            active=True,
            all_locations=everywhere,
        )
        for code, name, cents, interval, public, everywhere in DEMO_PLANS
    ]
    basico = plans[0]
    session.add_all([centro, norte, *plans])
    await session.flush()
    await session.execute(
        insert(plan_locations), [{"plan_id": basico.id, "location_id": centro.id}]
    )
    return gym.id


async def _create_demo_staff(
    session: AsyncSession, gym_id: int, owner_password: str, created_at: datetime
) -> None:
    # Argon2 is deliberately slow; hash off the event loop.
    owner_hash = await asyncio.to_thread(hash_password, owner_password)
    front_desk_hash = await asyncio.to_thread(hash_password, generate_password())
    session.add_all(
        [
            StaffUser(
                gym_id=gym_id,
                email=OWNER_EMAIL,
                name="Mariana Torres",
                role="owner",
                password_hash=owner_hash,
                active=True,
                created_at=created_at,
            ),
            # Nobody is told this password; the owner resets it from the dashboard.
            StaffUser(
                gym_id=gym_id,
                email=FRONT_DESK_EMAIL,
                name="Recepción Centro",
                role="staff",
                password_hash=front_desk_hash,
                active=True,
                created_at=created_at,
            ),
        ]
    )
    await session.flush()


# Class types: name, description, minutes, capacity, plan codes (None: every plan).
DEMO_CLASS_TYPES: tuple[tuple[str, str, int, int, tuple[str, ...] | None], ...] = (
    ("Spinning", "Cardio en bici con música", 45, 20, None),
    ("Yoga", "Vinyasa para todos los niveles", 60, 15, None),
    ("Box", "Técnica y acondicionamiento", 60, 12, ("premium", "anual")),
    ("Zumba", "Baile fitness", 50, 25, None),
    ("Funcional", "Circuito de fuerza y cardio", 45, 16, None),
)
DEMO_TRAINERS = (
    ("karla@gogym.demo", "Karla Ruiz"),
    ("diego@gogym.demo", "Diego Salas"),
    ("pau@gogym.demo", "Paulina Vega"),
)
WEEKDAYS, DAILY = (0, 1, 2, 3, 4), (0, 1, 2, 3, 4, 5, 6)
# location, class, local start, weekdays (0 = Monday), trainer email: morning and evening.
DEMO_WEEK: tuple[tuple[str, str, time, tuple[int, ...], str], ...] = (
    ("centro", "Spinning", time(7, 0), (0, 1, 2, 3, 4, 5), "karla@gogym.demo"),
    ("centro", "Spinning", time(19, 0), WEEKDAYS, "karla@gogym.demo"),
    ("centro", "Yoga", time(8, 30), DAILY, "pau@gogym.demo"),
    ("centro", "Box", time(20, 0), (0, 2, 4), "diego@gogym.demo"),
    ("centro", "Zumba", time(18, 0), (1, 3), "pau@gogym.demo"),
    ("centro", "Funcional", time(12, 0), (5, 6), "diego@gogym.demo"),
    ("norte", "Funcional", time(7, 0), WEEKDAYS, "diego@gogym.demo"),
    ("norte", "Spinning", time(18, 0), WEEKDAYS, "karla@gogym.demo"),
    ("norte", "Yoga", time(20, 0), (1, 3), "pau@gogym.demo"),
    ("norte", "Zumba", time(10, 0), (5, 6), "pau@gogym.demo"),
    ("norte", "Box", time(19, 0), (1, 3), "diego@gogym.demo"),
)


async def _create_demo_classes(session: AsyncSession, gym_id: int, now: datetime) -> None:
    """Trainers, class types and a weekly timetable at both locations, materialized."""
    trainers = {
        email: StaffUser(
            gym_id=gym_id,
            email=email,
            name=name,
            role="trainer",
            password_hash=hash_password(generate_password()),
            active=True,
            created_at=now,
        )
        for email, name in DEMO_TRAINERS
    }
    plans = {p.code: p.id for p in await session.scalars(select(Plan).where(Plan.gym_id == gym_id))}
    types = {
        name: ClassType(
            gym_id=gym_id,
            name=name,
            description=description,
            duration_minutes=minutes,
            default_capacity=capacity,
            all_plans=codes is None,
            active=True,
            created_at=now,
        )
        for name, description, minutes, capacity, codes in DEMO_CLASS_TYPES
    }
    session.add_all([*trainers.values(), *types.values()])
    await session.flush()
    eligible = [
        {"class_type_id": types[name].id, "plan_id": plans[code]}
        for name, _, _, _, codes in DEMO_CLASS_TYPES
        for code in codes or ()
    ]
    if eligible:
        await session.execute(insert(class_type_plans), eligible)
    places = {
        loc.slug: loc.id
        for loc in await session.scalars(select(Location).where(Location.gym_id == gym_id))
    }
    gym = await session.get_one(Gym, gym_id)
    start = now.astimezone(ZoneInfo(gym.timezone)).date() - timedelta(days=7)
    session.add_all(
        ClassSchedule(
            gym_id=gym_id,
            class_type_id=types[name].id,
            location_id=places[slug],
            weekday=weekday,
            start_time=at,
            instructor_id=trainers[email].id,
            instructor_name=trainers[email].name,
            valid_from=start,
            active=True,
            created_at=now,
        )
        for slug, name, at, days, email in DEMO_WEEK
        for weekday in days
    )
    await session.flush()
    await materialize_sessions(session, gym, now)


def _ana(ctx: GymContext, now: datetime) -> MemberDraft:
    """Premium, paid up, comes in every other day or so; never today, so she can check in."""
    plan, centro = ctx.plan("premium"), ctx.location("centro")
    joined = now - timedelta(days=70)
    periods = [(now - timedelta(days=d), now - timedelta(days=d - 30)) for d in (70, 40, 10)]
    invoices = [
        paid_invoice(start, end, start + timedelta(hours=2), plan.price_cents)
        for start, end in periods
    ]
    today = now.astimezone(ctx.tz).date()
    visits = [
        Visit(
            _scripted_visit(
                ctx.tz, today - timedelta(days=d), time(7, 10) if d % 2 else time(19, 20)
            ),
            centro.id,
            "code",
        )
        for d in range(1, 70)
        if d % 7 in (1, 3, 5)
    ]
    return MemberDraft(
        phone=ANA_PHONE,
        name="Ana López",
        joined_at=joined,
        plan=plan,
        home_location_id=centro.id,
        marketing_opt_in=True,
        member_status="active",
        sub_status="active",
        period_start=periods[-1][0],
        period_end=periods[-1][1],
        invoices=invoices,
        visits=visits,
    )


def _luis(ctx: GymContext, now: datetime) -> MemberDraft:
    """Básico, suspended: an open invoice due eight days ago (past the 7-day grace), older
    ones paid."""
    plan, centro = ctx.plan("basico"), ctx.location("centro")
    joined = now - timedelta(days=98)
    invoices = [
        paid_invoice(start, start + timedelta(days=30), start + timedelta(days=1), plan.price_cents)
        for start in (now - timedelta(days=d) for d in (98, 68, 38))
    ]
    start, end = now - timedelta(days=8), now + timedelta(days=22)
    overdue = InvoiceDraft(
        period_start=start,
        period_end=end,
        issued_at=start,
        due_at=start,
        paid_at=None,
        total_cents=plan.price_cents,
        status="open",
    )
    invoices.append(overdue)
    today = now.astimezone(ctx.tz).date()
    visits = [
        Visit(_scripted_visit(ctx.tz, today - timedelta(days=d), time(18, 40)), centro.id, "code")
        for d in range(10, 97)
        if d % 7 in (2, 5)
    ]
    return MemberDraft(
        phone=LUIS_PHONE,
        name="Luis Pérez",
        joined_at=joined,
        plan=plan,
        home_location_id=centro.id,
        marketing_opt_in=False,
        member_status="active",
        sub_status="suspended",
        past_due_since=start,
        period_start=start,
        period_end=end,
        invoices=invoices,
        visits=visits,
    )


def _scripted_visit(tz: ZoneInfo, day: date, weekday_time: time) -> datetime:
    """A visit at the member's usual weekday time, or mid-morning on weekends' short hours."""
    at = weekday_time if day.weekday() < 5 else time(10, 15)
    return local(tz, day, at)
