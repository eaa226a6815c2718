"""The dataclasses the seed modules share: the result, the gym as loaded, and member drafts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo


@dataclass
class SeedResult:
    gym_id: int
    owner_email: str | None
    owner_password: str | None  # plain text, printed once by the CLI; None if the owner existed
    members: int  # generated members created
    check_ins: int
    invoices: int


@dataclass(frozen=True)
class Loc:
    id: int
    slug: str
    latitude: float
    longitude: float
    hours: tuple[tuple[int, int] | None, ...]  # per weekday, minutes since local midnight


@dataclass(frozen=True)
class PlanInfo:
    id: int
    code: str
    price_cents: int
    interval: str
    interval_count: int
    location_ids: tuple[int, ...]  # where members of this plan may train


@dataclass(frozen=True)
class GymContext:
    gym_id: int
    tz: ZoneInfo
    locations: tuple[Loc, ...]
    plans: tuple[PlanInfo, ...]  # every plan, by id
    sellable: tuple[PlanInfo, ...]  # public, active, paid: what generated members buy

    def plan(self, code: str) -> PlanInfo:
        return next(p for p in self.plans if p.code == code)

    def location(self, slug: str) -> Loc:
        return next(loc for loc in self.locations if loc.slug == slug)


@dataclass
class Visit:
    at: datetime
    location_id: int
    method: str
    latitude: float | None = None
    longitude: float | None = None


@dataclass
class InvoiceDraft:
    period_start: datetime
    period_end: datetime
    issued_at: datetime
    due_at: datetime
    paid_at: datetime | None
    total_cents: int
    status: str = "paid"


@dataclass
class MemberDraft:
    phone: str
    name: str
    joined_at: datetime
    plan: PlanInfo
    home_location_id: int
    marketing_opt_in: bool
    member_status: str
    sub_status: str
    period_start: datetime
    period_end: datetime
    canceled_at: datetime | None = None
    past_due_since: datetime | None = None
    invoices: list[InvoiceDraft] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
