"""Factories as plain functions: the smallest gym that exercises a path."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.models import ApiKey
from backend.auth.passwords import hash_password
from backend.auth.tokens import API_KEY_DISPLAY_CHARS, digest, issue_access_token, new_api_key
from backend.billing.models import Invoice, Plan, Subscription, plan_locations
from backend.billing.tax import split_iva
from backend.cfdi.models import GymFiscalProfile, MemberFiscalProfile
from backend.cfdi.profile import Csd, save_profile
from backend.classes.models import ClassSession, ClassType, class_type_plans
from backend.gyms.models import Gym, Location, StaffUser
from backend.members.models import Member
from backend.payments.models import Payment, PaymentMethod
from backend.referrals.models import ReferralProgram
from backend.settings import Settings
from backend.types import utcnow

GYM_NUMBER = "+14155238886"
HOURS = {d: ["06:00", "22:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": ["07:00", "15:00"],
    "sun": None,
}


async def make_gym(session: AsyncSession, **kw: object) -> Gym:
    values: dict[str, object] = {
        "name": "GoGym Test",
        "slug": "test",
        "whatsapp_number": GYM_NUMBER,
        "timezone": "America/Mexico_City",
        "checkin_policy": "verify",
        "enrollment_open": True,
        "phone": "+525555555555",
    } | kw
    gym = Gym(**values)
    session.add(gym)
    await session.flush()
    return gym


async def make_location(
    session: AsyncSession, gym: Gym, slug: str = "centro", **kw: object
) -> Location:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "slug": slug,
        "name": f"GoGym {slug.title()}",
        "address": "Av. Juárez 10, Centro, CDMX",
        "latitude": 19.4326,
        "longitude": -99.1332,
        "radius_m": 150,
        "hours": HOURS,
    } | kw
    loc = Location(**values)
    session.add(loc)
    await session.flush()
    return loc


async def make_plan(
    session: AsyncSession,
    gym: Gym,
    code: str = "premium",
    price_cents: int = 79900,
    only_at: list[Location] | None = None,
    **kw: object,
) -> Plan:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "code": code,
        "name": code.title(),
        "price_cents": price_cents,
        "interval": "month",
        "all_locations": only_at is None,
    } | kw
    plan = Plan(**values)
    session.add(plan)
    await session.flush()
    for loc in only_at or []:
        await session.execute(insert(plan_locations).values(plan_id=plan.id, location_id=loc.id))
    return plan


async def make_member(
    session: AsyncSession,
    gym: Gym,
    phone: str = "+525512345678",
    name: str | None = "Ana López",
    status: str = "active",
    **kw: object,
) -> Member:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "phone": phone,
        "whatsapp_address": "whatsapp:+521" + phone[3:],
        "name": name,
        "status": status,
        "locale": "es",
    } | kw
    member = Member(**values)
    session.add(member)
    await session.flush()
    return member


async def make_subscription(
    session: AsyncSession,
    member: Member,
    plan: Plan,
    status: str = "active",
    now: datetime | None = None,
    days_left: int = 20,
) -> Subscription:
    now = now or utcnow()
    sub = Subscription(
        gym_id=member.gym_id,
        member_id=member.id,
        plan_id=plan.id,
        status=status,
        current_period_start=now - timedelta(days=10),
        current_period_end=now + timedelta(days=days_left),
    )
    session.add(sub)
    await session.flush()
    return sub


async def make_invoice(
    session: AsyncSession,
    member: Member,
    total_cents: int,
    status: str = "open",
    due_in_days: int = -5,
    number: str = "A-000001",
) -> Invoice:
    subtotal, tax = split_iva(total_cents)
    inv = Invoice(
        gym_id=member.gym_id,
        member_id=member.id,
        number=number,
        status=status,
        subtotal_cents=subtotal,
        tax_cents=tax,
        total_cents=total_cents,
        amount_due_cents=total_cents if status == "open" else 0,
        due_at=utcnow() + timedelta(days=due_in_days),
    )
    session.add(inv)
    await session.flush()
    return inv


async def standard_gym(session: AsyncSession) -> tuple[Gym, Location, Location, Plan, Plan]:
    """A gym with centro and norte, Premium (all locations) and Básico (centro only)."""
    gym = await make_gym(session)
    centro = await make_location(session, gym, "centro")
    norte = await make_location(
        session,
        gym,
        "norte",
        latitude=19.4890,
        longitude=-99.1300,
        address="Av. Montevideo 300, Lindavista, CDMX",
    )
    premium = await make_plan(session, gym, "premium", 79900)
    basico = await make_plan(session, gym, "basico", 49900, only_at=[centro])
    await make_plan(session, gym, "pase-dia", 0, interval="day", public=False)
    return gym, centro, norte, premium, basico


# --- staff, tokens and API keys (REST API) ----------------------------------------------------

STAFF_PASSWORD = "correct horse battery staple"


@lru_cache
def password_hash(password: str) -> str:
    """Argon2 takes ~0.2 s a hash on purpose; tests hash each password once."""
    return hash_password(password)


async def make_second_gym(session: AsyncSession, slug: str = "otro", **kw: object) -> Gym:
    """Another tenant, for isolation tests."""
    return await make_gym(session, name="Otro Gym", slug=slug, whatsapp_number="+14155550100", **kw)


async def make_staff(
    session: AsyncSession,
    gym: Gym,
    role: str = "owner",
    email: str | None = None,
    password: str = STAFF_PASSWORD,
    **kw: object,
) -> StaffUser:
    values: dict[str, object] = {
        "gym_id": gym.id,
        "email": email or f"{role}@{gym.slug}.test",
        "name": role.title(),
        "role": role,
        "password_hash": password_hash(password),
        "active": True,
    } | kw
    user = StaffUser(**values)
    session.add(user)
    await session.flush()
    return user


def access_token(secret_key: str, user: StaffUser, ttl: timedelta = timedelta(minutes=15)) -> str:
    return issue_access_token(secret_key, user.id, user.gym_id, user.role, utcnow(), ttl)


def auth_headers(secret_key: str, user: StaffUser) -> dict[str, str]:
    """Authorization headers for `user`, minted without going through login."""
    return {"Authorization": f"Bearer {access_token(secret_key, user)}"}


async def make_api_key(
    session: AsyncSession,
    gym: Gym,
    scopes: Sequence[str] = ("members:read",),
    name: str = "Integración",
    **kw: object,
) -> tuple[ApiKey, str]:
    """A key and its secret."""
    secret = new_api_key()
    values: dict[str, object] = {
        "gym_id": gym.id,
        "name": name,
        "prefix": secret[:API_KEY_DISPLAY_CHARS],
        "key_hash": digest(secret),
        "scopes": list(scopes),
    } | kw
    key = ApiKey(**values)
    session.add(key)
    await session.flush()
    return key, secret


async def make_class_type(
    session: AsyncSession,
    gym: Gym,
    name: str = "Spinning",
    capacity: int = 20,
    duration_minutes: int = 45,
    plans: list[Plan] | None = None,
) -> ClassType:
    """A class type; `plans` None means every plan may book it."""
    class_type = ClassType(
        gym_id=gym.id,
        name=name,
        description="",
        duration_minutes=duration_minutes,
        default_capacity=capacity,
        all_plans=plans is None,
        active=True,
    )
    session.add(class_type)
    await session.flush()
    for plan in plans or []:
        await session.execute(
            insert(class_type_plans).values(class_type_id=class_type.id, plan_id=plan.id)
        )
    return class_type


async def make_class_session(
    session: AsyncSession,
    class_type: ClassType,
    location: Location,
    starts_at: datetime | None = None,
    capacity: int | None = None,
    instructor_name: str | None = "Karla",
) -> ClassSession:
    """A one-off session (tomorrow at this time unless told)."""
    starts = starts_at or utcnow() + timedelta(days=1)
    cs = ClassSession(
        gym_id=class_type.gym_id,
        class_type_id=class_type.id,
        location_id=location.id,
        occurs_on=starts.date(),
        starts_at=starts,
        ends_at=starts + timedelta(minutes=class_type.duration_minutes),
        instructor_name=instructor_name,
        capacity=capacity or class_type.default_capacity,
        status="scheduled",
        overridden=True,
    )
    session.add(cs)
    await session.flush()
    return cs


async def make_referral_program(session: AsyncSession, gym: Gym, **kw: object) -> ReferralProgram:
    """A live referral program: $200 credit for the referrer, 50% off the friend's first
    month (on the cheapest public monthly plan)."""
    values: dict[str, object] = {
        "gym_id": gym.id,
        "name": "Trae a un amigo",
        "active": True,
        "referrer_reward": "credit",
        "referrer_value": 20000,
        "referred_reward": "first_month_discount",
        "referred_value": 50,
        "tiers": [],
    } | kw
    program = ReferralProgram(**values)
    session.add(program)
    await session.flush()
    return program


# --- CFDI (issue 6) ------------------------------------------------------------------------

SAT_CSD_DIR = Path(__file__).resolve().parent / "fixtures" / "sat_csd"
SAT_CSD_RFC = "EKU9003173C9"


def sat_test_csd() -> tuple[bytes, bytes, str]:
    """SAT's public test CSD (expired in 2023, still fine for local signing)."""
    base = SAT_CSD_DIR / SAT_CSD_RFC.lower()
    password = (SAT_CSD_DIR / f"{SAT_CSD_RFC.lower()}_csd.txt").read_text().strip()
    cer = Path(f"{base}_csd.cer").read_bytes()
    key = Path(f"{base}_csd.key").read_bytes()
    return cer, key, password


async def make_fiscal_profile(
    session: AsyncSession, settings: Settings, gym: Gym, **kw: object
) -> GymFiscalProfile:
    cer, key, password = sat_test_csd()
    values: dict[str, object] = {
        "rfc": SAT_CSD_RFC,
        "legal_name": "ESCUELA KEMPER URGATE",
        "regimen": "601",
        "postal_code": "06000",
        "pac_provider": "simulated",
        "csd": Csd(cer, key, password),
        "actor": "test",
    } | kw
    return await save_profile(session, settings, gym.id, **values)  # type: ignore[arg-type]


async def make_member_fiscal(
    session: AsyncSession,
    member: Member,
    rfc: str = "XIQB891116QE4",
    legal_name: str = "ANA LOPEZ",
    regimen: str = "612",
    postal_code: str = "06600",
    uso_cfdi: str = "G03",
    created_at: datetime | None = None,
) -> MemberFiscalProfile:
    profile = MemberFiscalProfile(
        gym_id=member.gym_id,
        member_id=member.id,
        rfc=rfc,
        legal_name=legal_name,
        regimen=regimen,
        postal_code=postal_code,
        uso_cfdi=uso_cfdi,
        created_at=created_at or utcnow() - timedelta(days=90),
    )
    session.add(profile)
    await session.flush()
    return profile


async def make_payment(
    session: AsyncSession,
    member: Member,
    amount_cents: int = 79900,
    method: str = "card",
    invoice: Invoice | None = None,
    applied_at: datetime | None = None,
    status: str = "approved",
) -> Payment:
    when = applied_at or utcnow()
    payment = Payment(
        gym_id=member.gym_id,
        member_id=member.id,
        invoice_id=invoice.id if invoice else None,
        amount_cents=amount_cents,
        method=method,
        provider="test",
        idempotency_key=f"test:{uuid.uuid4().hex}",
        status=status,
        created_at=when,
        updated_at=when,
        applied_at=when if status in ("approved", "refunded") else None,
    )
    session.add(payment)
    await session.flush()
    return payment


async def make_payment_method(
    session: AsyncSession, member: Member, card_id: str = "card-4242", **kw: object
) -> PaymentMethod:
    """A saved card (provider customer + card ids only), the member's default."""
    values: dict[str, object] = {
        "gym_id": member.gym_id,
        "member_id": member.id,
        "provider": "mercadopago",
        "provider_customer_id": f"cus-{member.id}",
        "provider_card_id": card_id,
        "brand": "visa",
        "last4": "4242",
        "exp_month": 12,
        "exp_year": 2030,
        "is_default": True,
    } | kw
    method = PaymentMethod(**values)
    session.add(method)
    await session.flush()
    return method
