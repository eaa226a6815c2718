"""Generated members: a year of realistic visits, invoices and events, drawn from a seeded RNG."""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Plan, plan_locations
from backend.gyms.models import Gym, Location
from backend.members.models import Member
from backend.phones import InvalidPhone, normalize_phone
from backend.seed.model import (
    GymContext,
    InvoiceDraft,
    Loc,
    MemberDraft,
    PlanInfo,
    SeedResult,
    Visit,
)
from backend.seed.persist import persist
from backend.types import utcnow

# The demo's scripted members (see demo.py): generated members never draw these numbers.
ANA_PHONE = "+525512345678"
LUIS_PHONE = "+525587654321"
RESERVED_PHONES = frozenset({ANA_PHONE, LUIS_PHONE})

MOBILE_AREA_CODES = ("55", "33", "81")  # CDMX, Guadalajara, Monterrey
HISTORY_DAYS = 365

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


async def seed_members(
    session: AsyncSession,
    gym_id: int,
    *,
    members: int,
    rng_seed: int = 7,
    now: datetime | None = None,
) -> SeedResult:
    """Add `members` generated members with 12 months of visits, invoices and events."""
    now = utc(now)
    ctx = await load_context(session, gym_id)
    if not ctx.locations or not ctx.sellable:
        raise ValueError(f"gym {gym_id} needs at least one location and one paid public plan")
    rng = random.Random(rng_seed)
    drafts = [_draw_member(rng, ctx, now, phone) for phone in _draw_phones(rng, members)]
    taken = set((await session.scalars(select(Member.phone).where(Member.gym_id == gym_id))).all())
    # Drafts are drawn before filtering so a repeated call regenerates, and skips, the same people.
    drafts = [d for d in drafts if d.phone not in taken]
    return await persist(session, ctx, drafts)


# --- loading the gym ----------------------------------------------------------------------


async def load_context(session: AsyncSession, gym_id: int) -> GymContext:
    gym = await session.get(Gym, gym_id)
    if gym is None:
        raise LookupError(f"no gym {gym_id}")
    locations = tuple(
        Loc(loc.id, loc.slug, loc.latitude, loc.longitude, _parse_hours(loc.hours))
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
        PlanInfo(
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
    return GymContext(gym_id, ZoneInfo(gym.timezone), locations, plans, sellable)


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


def _draw_member(rng: random.Random, ctx: GymContext, now: datetime, phone: str) -> MemberDraft:
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
    return MemberDraft(
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


def _draw_profile(rng: random.Random, plan: PlanInfo) -> tuple[str, int | None]:
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


def _draw_days_ago(rng: random.Random, plan: PlanInfo, tenure: int | None) -> float:
    """How long ago the member joined; churners early enough for their last period to end."""
    if tenure is not None:
        return rng.uniform(tenure + _period_days_max(plan) + 2, HISTORY_DAYS)
    if rng.random() < 0.25:
        return rng.uniform(330, HISTORY_DAYS)  # the founding cohort
    return rng.uniform(0, 330)


def _period_days_max(plan: PlanInfo) -> int:
    return PERIOD_DAYS_MAX[plan.interval] * plan.interval_count


def _draw_home(rng: random.Random, plan: PlanInfo) -> int:
    allowed = plan.location_ids
    # The first (flagship) location draws a few more members than the others.
    return rng.choices(allowed, weights=[1.5 if i == 0 else 1.0 for i in range(len(allowed))])[0]


def _draw_join_time(rng: random.Random, tz: ZoneInfo, now: datetime, days_ago: float) -> datetime:
    day = (now - timedelta(days=days_ago)).astimezone(tz).date()
    minute = rng.randrange(7 * 60, 21 * 60)
    joined = local(tz, day, time(minute // 60, minute % 60))
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
    ctx: GymContext,
    plan: PlanInfo,
    home: int,
    behaviour: _Behaviour,
    joined: datetime,
    until: datetime,
) -> list[Visit]:
    locations = {loc.id: loc for loc in ctx.locations}
    others = [loc_id for loc_id in plan.location_ids if loc_id != home]
    slot = rng.choices(range(len(VISIT_SLOTS)), weights=SLOT_WEIGHTS)[0]
    visits: list[Visit] = []
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
                at = local(ctx.tz, day, time(minute // 60, minute % 60, rng.randrange(60)))
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


def _draw_method(rng: random.Random, loc: Loc, at: datetime) -> Visit:
    method = rng.choices(CHECKIN_METHODS, weights=CHECKIN_METHOD_WEIGHTS)[0]
    if method != "location":
        return Visit(at, loc.id, method)
    # A shared location lands within ~110 m of the front door, inside the 150 m radius.
    lat = round(loc.latitude + rng.uniform(-0.0007, 0.0007), 6)
    lng = round(loc.longitude + rng.uniform(-0.0007, 0.0007), 6)
    return Visit(at, loc.id, method, lat, lng)


def _draw_invoice(
    rng: random.Random,
    plan: PlanInfo,
    start: datetime,
    end: datetime,
    joined: datetime,
    now: datetime,
    *,
    first: bool,
) -> InvoiceDraft:
    if first:
        paid = joined + timedelta(minutes=rng.randint(2, 20))
    else:
        late = rng.random()
        days = rng.uniform(0, 1) if late < 0.7 else rng.uniform(1, 3) if late < 0.95 else 4.5
        paid = start + timedelta(days=days)
    if paid > now:
        paid = start + (now - start) * rng.random()
    return paid_invoice(start, end, paid, plan.price_cents)


def paid_invoice(start: datetime, end: datetime, paid: datetime, cents: int) -> InvoiceDraft:
    """An invoice issued at the period start, due three days later and paid at `paid`."""
    return InvoiceDraft(
        period_start=start,
        period_end=end,
        issued_at=start,
        due_at=start + timedelta(days=3),
        paid_at=paid,
        total_cents=cents,
    )


# --- calendar -----------------------------------------------------------------------------


def _period_start(anchor: datetime, plan: PlanInfo, index: int, tz: ZoneInfo) -> datetime:
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
    anchor: datetime, plan: PlanInfo, tz: ZoneInfo, *, until: datetime, inclusive: bool = False
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


def local(tz: ZoneInfo, day: date, at: time) -> datetime:
    """The UTC moment of a gym-local wall-clock time."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def utc(now: datetime | None) -> datetime:
    if now is None:
        return utcnow()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(UTC)
