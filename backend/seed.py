"""Demo data: the `demo` gym with two scripted members, and a year of realistic member history.

Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

import calendar
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.passwords import generate_password, hash_password
from backend.billing.models import Invoice, Plan, Subscription, plan_locations
from backend.checkins.models import CheckIn
from backend.db import Base
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import Member, MemberEvent
from backend.members.partitions import partition_ddl
from backend.phones import InvalidPhone, normalize_phone
from backend.types import utcnow

DEMO_SLUG = "demo"
OWNER_EMAIL = "owner@gogym.demo"
FRONT_DESK_EMAIL = "recepcion@gogym.demo"
ANA_PHONE = "+525512345678"
LUIS_PHONE = "+525587654321"
RESERVED_PHONES = frozenset({ANA_PHONE, LUIS_PHONE})
MOBILE_AREA_CODES = ("55", "33", "81")  # CDMX, Guadalajara, Monterrey
INVOICE_PREFIX = "A-"
HISTORY_DAYS = 365
CHUNK_ROWS = 2000

WEEK_HOURS: dict[str, list[str] | None] = {
    "mon": ["06:00", "22:00"],
    "tue": ["06:00", "22:00"],
    "wed": ["06:00", "22:00"],
    "thu": ["06:00", "22:00"],
    "fri": ["06:00", "22:00"],
    "sat": ["07:00", "15:00"],
    "sun": ["08:00", "14:00"],
}
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = (6 * 60, 22 * 60)

FIRST_NAMES = (
    "María Fernanda", "María José", "Guadalupe", "Ana Sofía", "Ximena", "Valeria", "Daniela",
    "Camila", "Andrea", "Regina", "Renata", "Fernanda", "Mariana", "Paola", "Alejandra",
    "Gabriela", "Karla", "Diana", "Brenda", "Itzel", "Jimena", "Natalia", "Lucía", "Sofía",
    "Verónica", "Adriana", "Claudia", "Patricia", "Rosa María", "Leticia", "José Luis",
    "Juan Carlos", "Luis Fernando", "Miguel Ángel", "Jesús", "Alejandro", "Carlos", "Diego",
    "Eduardo", "Fernando", "Francisco", "Javier", "Jorge", "José Antonio", "Juan Pablo",
    "Emiliano", "Santiago", "Sebastián", "Mateo", "Leonardo", "Rodrigo", "Ricardo", "Roberto",
    "Raúl", "Arturo", "Héctor", "Óscar", "Iván", "Omar", "Víctor",
)  # fmt: skip
SURNAMES = (
    "García", "Hernández", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez",
    "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez", "Reyes", "Jiménez", "Torres",
    "Díaz", "Gutiérrez", "Ruiz", "Mendoza", "Aguilar", "Ortiz", "Moreno", "Castillo", "Romero",
    "Álvarez", "Méndez", "Chávez", "Rivera", "Juárez", "Ramos", "Domínguez", "Herrera",
    "Medina", "Castro", "Vargas", "Guzmán", "Velázquez", "Muñoz", "Rojas", "Contreras",
    "Salazar", "Luna", "Ortega", "Santiago", "Guerrero", "Estrada", "Bautista", "Cortés", "Soto",
    "Alvarado", "Espinoza", "Lara", "Ávila", "Ríos", "Cervantes", "Silva", "Delgado", "Vega",
)  # fmt: skip

PLAN_WEIGHTS = {"basico": 0.45, "premium": 0.43, "anual": 0.12}
# loyal 3–5 visits/week, casual 1–2, fading decays to zero then cancels, early quits in weeks.
PROFILE_WEIGHTS = {"loyal": 0.28, "casual": 0.38, "fading": 0.22, "early": 0.12}
# Gym-local visit windows, in minutes: mornings, lunch break, after work.
VISIT_SLOTS = ((6 * 60, 9 * 60), (13 * 60, 15 * 60), (18 * 60, 21 * 60))
SLOT_WEIGHTS = (0.35, 0.20, 0.45)
WEEKDAY_FACTOR = (1.25, 1.15, 1.1, 1.05, 0.9, 0.85, 0.7)  # Monday first; averages 1
MONTH_FACTOR = (1.15, 1.1, 1.05, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.0, 0.95, 0.8)
CHECKIN_METHODS = ("code", "location", "staff")
CHECKIN_METHOD_WEIGHTS = (0.6, 0.3, 0.1)
PERIOD_DAYS_MAX = {"day": 1, "week": 7, "month": 31, "quarter": 92, "year": 366}


@dataclass
class SeedResult:
    gym_id: int
    owner_email: str | None
    owner_password: str | None  # plain text, printed once by the CLI; None if the owner existed
    members: int  # generated members created
    check_ins: int
    invoices: int


@dataclass(frozen=True)
class _Loc:
    id: int
    slug: str
    latitude: float
    longitude: float
    hours: tuple[tuple[int, int] | None, ...]  # per weekday, minutes since local midnight


@dataclass(frozen=True)
class _PlanInfo:
    id: int
    code: str
    price_cents: int
    interval: str
    interval_count: int
    location_ids: tuple[int, ...]  # where members of this plan may train


@dataclass(frozen=True)
class _GymContext:
    gym_id: int
    tz: ZoneInfo
    locations: tuple[_Loc, ...]
    plans: tuple[_PlanInfo, ...]  # every plan, by id
    sellable: tuple[_PlanInfo, ...]  # public, active, paid: what generated members buy

    def plan(self, code: str) -> _PlanInfo:
        return next(p for p in self.plans if p.code == code)

    def location(self, slug: str) -> _Loc:
        return next(loc for loc in self.locations if loc.slug == slug)


@dataclass
class _Visit:
    at: datetime
    location_id: int
    method: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class _InvoiceDraft:
    period_start: datetime
    period_end: datetime
    issued_at: datetime
    due_at: datetime
    paid_at: datetime | None
    total_cents: int
    status: str = "paid"


@dataclass
class _MemberDraft:
    phone: str
    name: str
    joined_at: datetime
    plan: _PlanInfo
    home_location_id: int
    marketing_opt_in: bool
    member_status: str
    sub_status: str
    period_start: datetime
    period_end: datetime
    canceled_at: datetime | None = None
    invoices: list[_InvoiceDraft] = field(default_factory=list)
    visits: list[_Visit] = field(default_factory=list)


@dataclass(frozen=True)
class _Behaviour:
    """Visits per week over time: a base rate, an optional linear fade and a holiday break."""

    base: float
    fade_start: date | None = None
    fade_end: date | None = None
    break_start: date | None = None
    break_end: date | None = None

    def rate(self, day: date) -> float:
        if self.break_start and self.break_end and self.break_start <= day < self.break_end:
            return 0.0
        if self.fade_start is None or self.fade_end is None or day < self.fade_start:
            return self.base
        if day >= self.fade_end:
            return 0.0
        span = (self.fade_end - self.fade_start).days
        return self.base * (self.fade_end - day).days / span


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

    now = _utc(now)
    gym_id = await _create_demo_gym(session, now)
    password = generate_password()
    await _create_demo_staff(session, gym_id, password, now - timedelta(days=HISTORY_DAYS + 1))
    ctx = await _load_context(session, gym_id)
    scripted = await _persist(session, ctx, [_ana(ctx, now), _luis(ctx, now)])
    generated = await seed_members(session, gym_id, members=members, rng_seed=rng_seed, now=now)
    return SeedResult(
        gym_id=gym_id,
        owner_email=OWNER_EMAIL,
        owner_password=password,
        members=generated.members,
        check_ins=scripted.check_ins + generated.check_ins,
        invoices=scripted.invoices + generated.invoices,
    )


async def seed_members(
    session: AsyncSession,
    gym_id: int,
    *,
    members: int,
    rng_seed: int = 7,
    now: datetime | None = None,
) -> SeedResult:
    """Add `members` generated members with 12 months of visits, invoices and events."""
    now = _utc(now)
    ctx = await _load_context(session, gym_id)
    if not ctx.locations or not ctx.sellable:
        raise ValueError(f"gym {gym_id} needs at least one location and one paid public plan")
    rng = random.Random(rng_seed)
    drafts = [_draw_member(rng, ctx, now, phone) for phone in _draw_phones(rng, members)]
    taken = set((await session.scalars(select(Member.phone).where(Member.gym_id == gym_id))).all())
    # Drafts are drawn before filtering so a repeated call regenerates, and skips, the same people.
    drafts = [d for d in drafts if d.phone not in taken]
    return await _persist(session, ctx, drafts)


# --- demo gym -----------------------------------------------------------------------------


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
    basico = Plan(
        gym_id=gym.id,
        code="basico",
        name="Básico",
        price_cents=49900,
        interval="month",
        interval_count=1,
        public=True,
        active=True,
        all_locations=False,
    )
    plans = [
        basico,
        Plan(
            gym_id=gym.id,
            code="premium",
            name="Premium",
            price_cents=79900,
            interval="month",
            interval_count=1,
            public=True,
            active=True,
            all_locations=True,
        ),
        Plan(
            gym_id=gym.id,
            code="anual",
            name="Anual",
            price_cents=799000,
            interval="year",
            interval_count=1,
            public=True,
            active=True,
            all_locations=True,
        ),
        Plan(
            gym_id=gym.id,
            code="pase-dia",
            name="Pase de día",
            price_cents=0,
            interval="day",
            interval_count=1,
            public=False,
            active=True,
            all_locations=True,
        ),
    ]
    session.add_all([centro, norte, *plans])
    await session.flush()
    await session.execute(
        insert(plan_locations), [{"plan_id": basico.id, "location_id": centro.id}]
    )
    return gym.id


async def _create_demo_staff(
    session: AsyncSession, gym_id: int, owner_password: str, created_at: datetime
) -> None:
    session.add_all(
        [
            StaffUser(
                gym_id=gym_id,
                email=OWNER_EMAIL,
                name="Mariana Torres",
                role="owner",
                password_hash=hash_password(owner_password),
                active=True,
                created_at=created_at,
            ),
            # Nobody is told this password; the owner resets it from the dashboard.
            StaffUser(
                gym_id=gym_id,
                email=FRONT_DESK_EMAIL,
                name="Recepción Centro",
                role="front_desk",
                password_hash=hash_password(generate_password()),
                active=True,
                created_at=created_at,
            ),
        ]
    )
    await session.flush()


def _ana(ctx: _GymContext, now: datetime) -> _MemberDraft:
    """Premium, paid up, comes in every other day or so; never today, so she can check in."""
    plan, centro = ctx.plan("premium"), ctx.location("centro")
    joined = now - timedelta(days=70)
    periods = [(now - timedelta(days=d), now - timedelta(days=d - 30)) for d in (70, 40, 10)]
    invoices = [
        _paid_invoice(start, end, start + timedelta(hours=2), plan.price_cents)
        for start, end in periods
    ]
    today = now.astimezone(ctx.tz).date()
    visits = [
        _Visit(
            _scripted_visit(
                ctx.tz, today - timedelta(days=d), time(7, 10) if d % 2 else time(19, 20)
            ),
            centro.id,
            "code",
        )
        for d in range(1, 70)
        if d % 7 in (1, 3, 5)
    ]
    return _MemberDraft(
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


def _luis(ctx: _GymContext, now: datetime) -> _MemberDraft:
    """Básico, past due: one open invoice that fell due five days ago, older ones paid."""
    plan, centro = ctx.plan("basico"), ctx.location("centro")
    joined = now - timedelta(days=98)
    invoices = [
        _paid_invoice(
            start, start + timedelta(days=30), start + timedelta(days=1), plan.price_cents
        )
        for start in (now - timedelta(days=d) for d in (98, 68, 38))
    ]
    start, end = now - timedelta(days=8), now + timedelta(days=22)
    overdue = _InvoiceDraft(
        period_start=start,
        period_end=end,
        issued_at=start,
        due_at=now - timedelta(days=5),
        paid_at=None,
        total_cents=plan.price_cents,
        status="open",
    )
    invoices.append(overdue)
    today = now.astimezone(ctx.tz).date()
    visits = [
        _Visit(_scripted_visit(ctx.tz, today - timedelta(days=d), time(18, 40)), centro.id, "code")
        for d in range(10, 97)
        if d % 7 in (2, 5)
    ]
    return _MemberDraft(
        phone=LUIS_PHONE,
        name="Luis Pérez",
        joined_at=joined,
        plan=plan,
        home_location_id=centro.id,
        marketing_opt_in=False,
        member_status="active",
        sub_status="past_due",
        period_start=start,
        period_end=end,
        invoices=invoices,
        visits=visits,
    )


def _scripted_visit(tz: ZoneInfo, day: date, weekday_time: time) -> datetime:
    """A visit at the member's usual weekday time, or mid-morning on weekends' short hours."""
    at = weekday_time if day.weekday() < 5 else time(10, 15)
    return _local(tz, day, at)


# --- loading the gym ----------------------------------------------------------------------


async def _load_context(session: AsyncSession, gym_id: int) -> _GymContext:
    gym = await session.get(Gym, gym_id)
    if gym is None:
        raise LookupError(f"no gym {gym_id}")
    locations = tuple(
        _Loc(loc.id, loc.slug, loc.latitude, loc.longitude, _parse_hours(loc.hours))
        for loc in await session.scalars(
            select(Location).where(Location.gym_id == gym_id).order_by(Location.id)
        )
    )
    plan_rows = list(
        await session.scalars(select(Plan).where(Plan.gym_id == gym_id).order_by(Plan.id))
    )
    links = await session.execute(
        select(plan_locations.c.plan_id, plan_locations.c.location_id)
        .where(plan_locations.c.plan_id.in_([p.id for p in plan_rows]))
        .order_by(plan_locations.c.plan_id, plan_locations.c.location_id)
    )
    allowed: dict[int, list[int]] = {}
    for plan_id, location_id in links:
        allowed.setdefault(plan_id, []).append(location_id)
    every = tuple(loc.id for loc in locations)
    plans = tuple(
        _PlanInfo(
            p.id,
            p.code,
            p.price_cents,
            p.interval,
            p.interval_count,
            every if p.all_locations else tuple(allowed.get(p.id, ())) or every,
        )
        for p in plan_rows
    )
    sellable = tuple(
        info
        for info, row in zip(plans, plan_rows, strict=True)
        if row.public and row.active and info.price_cents > 0 and info.interval in PERIOD_DAYS_MAX
    )
    return _GymContext(gym_id, ZoneInfo(gym.timezone), locations, plans, sellable)


def _parse_hours(hours: dict[str, Any] | None) -> tuple[tuple[int, int] | None, ...]:
    """Opening hours per weekday in minutes; a missing day means the usual 06–22, null closed."""
    parsed: list[tuple[int, int] | None] = []
    for key in DAY_KEYS:
        value = (hours or {}).get(key, "default")
        if value is None:
            parsed.append(None)
            continue
        try:
            opens, closes = (int(h) * 60 + int(m) for h, m in (s.split(":") for s in value))
        except (TypeError, ValueError, AttributeError):
            parsed.append(DEFAULT_HOURS)
            continue
        parsed.append((opens, closes) if closes > opens else None)
    return tuple(parsed)


# --- drawing members ----------------------------------------------------------------------


def _draw_phones(rng: random.Random, count: int) -> list[str]:
    phones: list[str] = []
    seen = set(RESERVED_PHONES)
    while len(phones) < count:
        raw = "+52" + rng.choice(MOBILE_AREA_CODES) + f"{rng.randrange(10**8):08d}"
        try:
            phone = normalize_phone(raw)
        except InvalidPhone:
            continue
        if phone not in seen:
            seen.add(phone)
            phones.append(phone)
    return phones


def _draw_name(rng: random.Random) -> str:
    first = rng.choice(FIRST_NAMES)
    paternal, maternal = rng.sample(SURNAMES, 2)
    return f"{first} {paternal} {maternal}"


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _draw_member(rng: random.Random, ctx: _GymContext, now: datetime, phone: str) -> _MemberDraft:
    """One member's year: name, plan, home location, behaviour, invoices and visits."""
    name = _draw_name(rng)
    plan_weights = [PLAN_WEIGHTS.get(p.code, 0.3) for p in ctx.sellable]
    plan = rng.choices(ctx.sellable, weights=plan_weights)[0]
    home = _draw_home(rng, plan)
    profile, tenure = _draw_profile(rng, plan)
    joined = _draw_join_time(rng, ctx.tz, now, _draw_days_ago(rng, plan, tenure))
    marketing = rng.random() < 0.65
    if tenure is None:
        periods = _periods(joined, plan, ctx.tz, until=now, inclusive=True)
    else:
        periods = _periods(joined, plan, ctx.tz, until=joined + timedelta(days=tenure))
    invoices = [
        _draw_invoice(rng, plan, start, end, joined, now, first=i == 0)
        for i, (start, end) in enumerate(periods)
    ]
    last_start, last_end = periods[-1]
    canceled_at = None
    if tenure is not None:
        # Churners ask to cancel a few days before their last paid period runs out.
        canceled_at = min(now, max(last_start, last_end - timedelta(days=rng.uniform(0.5, 5))))
    behaviour = _draw_behaviour(rng, profile, joined, canceled_at or now, ctx.tz)
    visits = _draw_visits(rng, ctx, plan, home, behaviour, joined, canceled_at or now)
    return _MemberDraft(
        phone=phone,
        name=name,
        joined_at=joined,
        plan=plan,
        home_location_id=home,
        marketing_opt_in=marketing,
        member_status="active" if canceled_at is None else "inactive",
        sub_status="active" if canceled_at is None else "canceled",
        period_start=last_start,
        period_end=last_end,
        canceled_at=canceled_at,
        invoices=invoices,
        visits=visits,
    )


def _draw_profile(rng: random.Random, plan: _PlanInfo) -> tuple[str, int | None]:
    """A behaviour profile and, for churners, the days from joining to their last period."""
    profile = _weighted(rng, PROFILE_WEIGHTS)
    if profile == "fading":
        tenure = rng.randint(30, 120) + rng.randint(60, 100) + rng.randint(7, 25)
    elif profile == "early":
        tenure = rng.randint(23, 50)
    else:
        return profile, None
    if tenure + _period_days_max(plan) + 2 > HISTORY_DAYS:
        return "casual", None  # a long (annual) period cannot lapse within the year
    return profile, tenure


def _draw_days_ago(rng: random.Random, plan: _PlanInfo, tenure: int | None) -> float:
    """How long ago the member joined; churners early enough for their last period to end."""
    if tenure is not None:
        return rng.uniform(tenure + _period_days_max(plan) + 2, HISTORY_DAYS)
    if rng.random() < 0.25:
        return rng.uniform(330, HISTORY_DAYS)  # the founding cohort
    return rng.uniform(0, 330)


def _period_days_max(plan: _PlanInfo) -> int:
    return PERIOD_DAYS_MAX[plan.interval] * plan.interval_count


def _draw_home(rng: random.Random, plan: _PlanInfo) -> int:
    allowed = plan.location_ids
    # The first (flagship) location draws a few more members than the others.
    return rng.choices(allowed, weights=[1.5 if i == 0 else 1.0 for i in range(len(allowed))])[0]


def _draw_join_time(rng: random.Random, tz: ZoneInfo, now: datetime, days_ago: float) -> datetime:
    day = (now - timedelta(days=days_ago)).astimezone(tz).date()
    minute = rng.randrange(7 * 60, 21 * 60)
    joined = _local(tz, day, time(minute // 60, minute % 60))
    if joined >= now:
        joined = now - timedelta(minutes=rng.randrange(10, 240))
    return joined


def _draw_behaviour(
    rng: random.Random, profile: str, joined: datetime, until: datetime, tz: ZoneInfo
) -> _Behaviour:
    """Visit rate over time: steady for loyal and casual members, fading for churners."""
    first, last = joined.astimezone(tz).date(), until.astimezone(tz).date()
    if profile == "fading":
        fade_end = last - timedelta(days=rng.randint(7, 21))
        fade_start = max(
            first + timedelta(days=21), fade_end - timedelta(days=rng.randint(60, 100))
        )
        fade_end = max(fade_end, fade_start + timedelta(days=7))
        return _Behaviour(rng.uniform(2.5, 3.5), fade_start, fade_end)
    if profile == "early":
        fade_start = first + timedelta(days=rng.randint(10, 21))
        fade_end = max(fade_start + timedelta(days=3), last - timedelta(days=rng.randint(3, 10)))
        return _Behaviour(rng.uniform(1.5, 3), fade_start, fade_end)
    base = rng.uniform(3, 5) if profile == "loyal" else rng.uniform(1, 2)
    if (last - first).days > 60 and rng.random() < 0.3:
        start = first + timedelta(days=rng.randrange(14, (last - first).days - 21))
        return _Behaviour(base, break_start=start, break_end=start + timedelta(rng.randint(7, 16)))
    return _Behaviour(base)


def _draw_visits(
    rng: random.Random,
    ctx: _GymContext,
    plan: _PlanInfo,
    home: int,
    behaviour: _Behaviour,
    joined: datetime,
    until: datetime,
) -> list[_Visit]:
    locations = {loc.id: loc for loc in ctx.locations}
    others = [loc_id for loc_id in plan.location_ids if loc_id != home]
    slot = rng.choices(range(len(VISIT_SLOTS)), weights=SLOT_WEIGHTS)[0]
    visits: list[_Visit] = []
    day, last = joined.astimezone(ctx.tz).date(), until.astimezone(ctx.tz).date()
    while day <= last:
        chance = (
            behaviour.rate(day) / 7 * WEEKDAY_FACTOR[day.weekday()] * MONTH_FACTOR[day.month - 1]
        )
        if chance > 0 and rng.random() < min(chance, 0.95):
            loc = locations[rng.choice(others) if others and rng.random() < 0.12 else home]
            usual = slot if rng.random() < 0.75 else rng.randrange(len(VISIT_SLOTS))
            minute = _visit_minute(rng, VISIT_SLOTS[usual], loc.hours[day.weekday()])
            if minute is not None:
                at = _local(ctx.tz, day, time(minute // 60, minute % 60, rng.randrange(60)))
                if joined < at < until:
                    visits.append(_draw_method(rng, loc, at))
        day += timedelta(days=1)
    return visits


def _visit_minute(
    rng: random.Random, slot: tuple[int, int], hours: tuple[int, int] | None
) -> int | None:
    """A minute inside the slot and at least an hour before closing; None when closed."""
    if hours is None:
        return None
    opens, last = hours[0], hours[1] - 60
    if last <= opens:
        return None
    lo, hi = max(slot[0], opens), min(slot[1], last)
    if lo >= hi:
        lo, hi = opens, last
    return rng.randrange(lo, hi)


def _draw_method(rng: random.Random, loc: _Loc, at: datetime) -> _Visit:
    method = rng.choices(CHECKIN_METHODS, weights=CHECKIN_METHOD_WEIGHTS)[0]
    if method != "location":
        return _Visit(at, loc.id, method)
    # A shared location lands within ~110 m of the front door, inside the 150 m radius.
    lat = round(loc.latitude + rng.uniform(-0.0007, 0.0007), 6)
    lng = round(loc.longitude + rng.uniform(-0.0007, 0.0007), 6)
    return _Visit(at, loc.id, method, lat, lng)


def _draw_invoice(
    rng: random.Random,
    plan: _PlanInfo,
    start: datetime,
    end: datetime,
    joined: datetime,
    now: datetime,
    *,
    first: bool,
) -> _InvoiceDraft:
    if first:
        paid = joined + timedelta(minutes=rng.randint(2, 20))
    else:
        late = rng.random()
        days = rng.uniform(0, 1) if late < 0.7 else rng.uniform(1, 3) if late < 0.95 else 4.5
        paid = start + timedelta(days=days)
    if paid > now:
        paid = start + (now - start) * rng.random()
    return _paid_invoice(start, end, paid, plan.price_cents)


def _paid_invoice(start: datetime, end: datetime, paid: datetime, cents: int) -> _InvoiceDraft:
    """An invoice issued at the period start, due three days later and paid at `paid`."""
    return _InvoiceDraft(
        period_start=start,
        period_end=end,
        issued_at=start,
        due_at=start + timedelta(days=3),
        paid_at=paid,
        total_cents=cents,
    )


# --- calendar -----------------------------------------------------------------------------


def _period_start(anchor: datetime, plan: _PlanInfo, index: int, tz: ZoneInfo) -> datetime:
    """Start of the index-th billing period, counted on the gym-local calendar from `anchor`."""
    local = anchor.astimezone(tz)
    steps = index * plan.interval_count
    if plan.interval == "day":
        shifted = local + timedelta(days=steps)
    elif plan.interval == "week":
        shifted = local + timedelta(weeks=steps)
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[plan.interval] * steps
        shifted = _add_months(local, months)
    return shifted.astimezone(UTC)


def _periods(
    anchor: datetime, plan: _PlanInfo, tz: ZoneInfo, *, until: datetime, inclusive: bool = False
) -> list[tuple[datetime, datetime]]:
    """Consecutive (start, end) periods from `anchor`, the last one starting before `until`
    (or at it when inclusive); always at least one."""
    starts = [anchor.astimezone(UTC)]
    while True:
        nxt = _period_start(anchor, plan, len(starts), tz)
        if nxt > until or (nxt == until and not inclusive):
            return list(zip(starts, [*starts[1:], nxt], strict=True))
        starts.append(nxt)


def _add_months(moment: datetime, months: int) -> datetime:
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _local(tz: ZoneInfo, day: date, at: time) -> datetime:
    """The UTC moment of a gym-local wall-clock time."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)


# --- writing ------------------------------------------------------------------------------


async def _persist(
    session: AsyncSession, ctx: _GymContext, drafts: Sequence[_MemberDraft]
) -> SeedResult:
    """Insert the drafts' members, subscriptions, invoices, check-ins and events in bulk."""
    if not drafts:
        return SeedResult(ctx.gym_id, None, None, 0, 0, 0)
    gym_id = ctx.gym_id
    member_rows = [_member_row(gym_id, d) for d in drafts]
    member_ids = await _insert_ids(session, _table(Member), "phone", member_rows)
    sub_rows = [_subscription_row(gym_id, d, m) for d, m in zip(drafts, member_ids, strict=True)]
    sub_ids = await _insert_ids(session, _table(Subscription), "member_id", sub_rows)
    owners = [
        (inv, member_id, sub_id)
        for d, member_id, sub_id in zip(drafts, member_ids, sub_ids, strict=True)
        for inv in d.invoices
    ]
    owners.sort(key=lambda row: row[0].issued_at)  # numbers follow issue order
    seq = await _max_invoice_seq(session, gym_id)
    invoice_rows = [
        _invoice_row(gym_id, inv, member_id, sub_id, seq + i)
        for i, (inv, member_id, sub_id) in enumerate(owners, start=1)
    ]
    invoice_ids = await _insert_ids(session, _table(Invoice), "number", invoice_rows)

    check_ins: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for d, member_id, sub_id in zip(drafts, member_ids, sub_ids, strict=True):
        joined = {
            "plan_id": d.plan.id,
            "subscription_id": sub_id,
            "location_id": d.home_location_id,
        }
        events.append(_event(gym_id, member_id, "joined", d.joined_at, joined))
        for v in d.visits:
            check_ins.append(_check_in_row(gym_id, member_id, v))
            events.append(_event(gym_id, member_id, "visit", v.at, {"location_id": v.location_id}))
        if d.canceled_at is not None:
            data = {"subscription_id": sub_id, "plan_id": d.plan.id}
            events.append(_event(gym_id, member_id, "canceled", d.canceled_at, data))
    for (inv, member_id, _), invoice_id in zip(owners, invoice_ids, strict=True):
        if inv.paid_at is not None:
            data = {"invoice_id": invoice_id, "amount_cents": inv.total_cents}
            events.append(_event(gym_id, member_id, "payment", inv.paid_at, data))
    check_ins.sort(key=lambda row: row["checked_in_at"])
    events.sort(key=lambda row: row["occurred_at"])
    await _ensure_event_partitions(session, events[0]["occurred_at"], events[-1]["occurred_at"])
    await _insert_many(session, _table(CheckIn), check_ins)
    await _insert_many(session, _table(MemberEvent), events)
    return SeedResult(gym_id, None, None, len(drafts), len(check_ins), len(invoice_ids))


async def _insert_ids(
    session: AsyncSession, table: Table, key: str, rows: list[dict[str, Any]]
) -> list[int]:
    """Insert rows and return their ids in row order, matched on a column unique in `rows`."""
    # Matching on a key, not on RETURNING order: SQLite cannot promise that order for a
    # multi-row insert, and SQLAlchemy would then fall back to one statement per row.
    stmt = insert(table).returning(table.c.id, table.c[key])
    ids: dict[Any, int] = {}
    for i in range(0, len(rows), CHUNK_ROWS):
        result = await session.execute(stmt, rows[i : i + CHUNK_ROWS])
        ids.update((row_key, row_id) for row_id, row_key in result.tuples())
    return [ids[row[key]] for row in rows]


def _table(model: type[Base]) -> Table:
    return Base.metadata.tables[model.__tablename__]


async def _insert_many(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    for i in range(0, len(rows), CHUNK_ROWS):
        await session.execute(insert(table), rows[i : i + CHUNK_ROWS])


async def _max_invoice_seq(session: AsyncSession, gym_id: int) -> int:
    numbers = await session.scalars(
        select(Invoice.number).where(
            Invoice.gym_id == gym_id, Invoice.number.startswith(INVOICE_PREFIX)
        )
    )
    pattern = re.compile(re.escape(INVOICE_PREFIX) + r"(\d+)")
    return max((int(m[1]) for n in numbers if (m := pattern.fullmatch(n))), default=0)


async def _ensure_event_partitions(session: AsyncSession, first: datetime, last: datetime) -> None:
    """On PostgreSQL, give every month we write events into its own partition."""
    if session.get_bind().dialect.name != "postgresql":
        return
    # Partition bounds are dates read in the server's zone: pad a day so edge months exist too.
    first, last = first - timedelta(days=1), last + timedelta(days=1)
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        name = f"member_events_{year:04d}_{month:02d}"
        exists = await session.scalar(text("SELECT to_regclass(:name)"), {"name": name})
        if exists is None:
            await session.execute(text(partition_ddl(year, month)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _member_row(gym_id: int, d: _MemberDraft) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "phone": d.phone,
        "whatsapp_address": "whatsapp:+521" + d.phone.removeprefix("+52"),
        "name": d.name,
        "locale": "es",
        "status": d.member_status,
        "home_location_id": d.home_location_id,
        "marketing_opt_in": d.marketing_opt_in,
        "marketing_opt_in_at": d.joined_at if d.marketing_opt_in else None,
        "biometrics_opt_in": False,
        "biometrics_opt_in_at": None,
        "created_at": d.joined_at,
    }


def _subscription_row(gym_id: int, d: _MemberDraft, member_id: int) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "plan_id": d.plan.id,
        "status": d.sub_status,
        "current_period_start": d.period_start,
        "current_period_end": d.period_end,
        "cancel_at_period_end": d.canceled_at is not None,
        "canceled_at": d.canceled_at,
        "created_at": d.joined_at,
    }


def _invoice_row(
    gym_id: int, inv: _InvoiceDraft, member_id: int, sub_id: int, seq: int
) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "subscription_id": sub_id,
        "number": f"{INVOICE_PREFIX}{seq:06d}",
        "status": inv.status,
        "total_cents": inv.total_cents,
        "period_start": inv.period_start,
        "period_end": inv.period_end,
        "issued_at": inv.issued_at,
        "due_at": inv.due_at,
        "paid_at": inv.paid_at,
    }


def _check_in_row(gym_id: int, member_id: int, v: _Visit) -> dict[str, Any]:
    return {
        "gym_id": gym_id,
        "member_id": member_id,
        "location_id": v.location_id,
        "method": v.method,
        "checked_in_at": v.at,
        "latitude": v.latitude,
        "longitude": v.longitude,
    }


def _event(
    gym_id: int, member_id: int, kind: str, at: datetime, data: dict[str, Any]
) -> dict[str, Any]:
    return {"gym_id": gym_id, "member_id": member_id, "kind": kind, "occurred_at": at, "data": data}
