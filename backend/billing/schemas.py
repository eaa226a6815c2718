from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Interval = Literal["day", "week", "month", "quarter", "year"]
SubscriptionStatus = Literal[
    "trialing", "active", "past_due", "suspended", "canceled", "expired", "paused"
]
InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]
# $100,000 MXN: a price above it is a typo.
MAX_CENTS = 10_000_000
Cents = Field(ge=0, le=MAX_CENTS)


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PlanFields(_Input):
    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=300)
    price_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    interval: Interval | None = None
    interval_count: int | None = Field(default=None, ge=1, le=24)
    enrollment_fee_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    trial_days: int | None = Field(default=None, ge=0, le=90)
    class_credits: int | None = Field(default=None, ge=0, le=1000)
    features: dict[str, bool] | None = None
    seats: int | None = Field(default=None, ge=1, le=10)
    corporate: bool | None = None
    promo_price_cents: int | None = Field(default=None, ge=0, le=MAX_CENTS)
    promo_starts_at: datetime | None = None
    promo_ends_at: datetime | None = None
    public: bool | None = None
    active: bool | None = None
    location_ids: list[int] | None = Field(
        default=None, max_length=100, description="Locations covered; omit or null for all."
    )

    @model_validator(mode="after")
    def _promo_window(self) -> PlanFields:
        if (
            self.promo_starts_at
            and self.promo_ends_at
            and self.promo_ends_at <= self.promo_starts_at
        ):
            raise ValueError("promo_ends_at must be after promo_starts_at")
        for moment in (self.promo_starts_at, self.promo_ends_at):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("promotion dates need a timezone (e.g. 2026-12-01T00:00:00-06:00)")
        return self


class PlanCreate(PlanFields):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: str = Field(min_length=1, max_length=120)
    price_cents: int = Field(ge=0, le=MAX_CENTS)
    interval: Interval = "month"
    kind: Literal["membership", "addon"] = "membership"


class PlanUpdate(PlanFields):
    """Only the fields sent change."""


class PlanOut(_Output):
    id: int
    code: str
    name: str
    kind: str
    description: str
    price_cents: int
    interval: str
    interval_count: int
    enrollment_fee_cents: int
    trial_days: int
    class_credits: int | None
    features: dict[str, bool]
    seats: int
    corporate: bool
    promo_price_cents: int | None
    promo_starts_at: datetime | None
    promo_ends_at: datetime | None
    public: bool
    active: bool
    all_locations: bool
    location_ids: list[int] = []


class SubscriptionCreate(_Input):
    member_id: int
    plan_id: int
    company_id: int | None = None


class SubscriptionUpdate(_Input):
    """`cancel_at_period_end: false` keeps a subscription whose cancellation was scheduled;
    `addon_plan_ids` replaces its add-ons."""

    cancel_at_period_end: Literal[False] | None = None
    addon_plan_ids: list[int] | None = Field(default=None, max_length=20)
    company_id: int | None = None


class CancelRequest(_Input):
    reason: str = Field(default="", max_length=300)
    at_period_end: bool = True


class PlanChangeRequest(_Input):
    plan_id: int


class PauseRequest(_Input):
    days: int = Field(ge=1, le=365)


class SeatRequest(_Input):
    member_id: int


class SubscriptionOut(_Output):
    id: int
    member_id: int
    plan_id: int
    status: str
    current_period_start: datetime
    current_period_end: datetime
    cancel_at_period_end: bool
    cancel_reason: str | None
    canceled_at: datetime | None
    pending_plan_id: int | None
    paused_at: datetime | None
    resume_at: datetime | None
    class_credits_remaining: int | None
    company_id: int | None
    created_at: datetime


class InvoiceLineOut(_Output):
    kind: str
    description: str
    quantity: int
    unit_price_cents: int
    amount_cents: int
    subtotal_cents: int
    tax_cents: int


class InvoiceOut(_Output):
    id: int
    number: str
    member_id: int
    subscription_id: int | None
    company_id: int | None
    status: str
    reason: str
    subtotal_cents: int
    tax_cents: int
    total_cents: int
    credit_applied_cents: int
    amount_due_cents: int
    issued_at: datetime
    due_at: datetime
    paid_at: datetime | None
    period_start: datetime | None
    period_end: datetime | None
    lines: list[InvoiceLineOut] = []


class PlanChangeOut(BaseModel):
    subscription: SubscriptionOut
    invoice: InvoiceOut | None
    credit_cents: int
    effective_at: datetime


class CashPayment(_Input):
    amount_cents: int = Field(gt=0, le=MAX_CENTS)
    reference: str = Field(default="", max_length=80)


class PaymentOut(_Output):
    id: int
    invoice_id: int | None
    amount_cents: int
    method: str
    provider: str
    status: str
    created_at: datetime


class CreditGrant(_Input):
    member_id: int
    amount_cents: int = Field(gt=0, le=MAX_CENTS)
    note: str = Field(default="", max_length=200)


class CreditOut(BaseModel):
    member_id: int
    balance_cents: int


class CompanyCreate(_Input):
    name: str = Field(min_length=1, max_length=200)
    rfc: str | None = Field(default=None, min_length=12, max_length=13)
    email: str | None = Field(default=None, max_length=200)


class CompanyOut(_Output):
    id: int
    name: str
    rfc: str | None
    email: str | None


class MonthOut(BaseModel):
    month: str
    new_members: int
    churned_members: int
    invoiced_cents: int
    collected_cents: int
    recognized_cents: int
    deferred_cents: int


class RevenueOut(BaseModel):
    as_of: datetime
    mrr_cents: int
    active_members: int
    months: list[MonthOut]
    receivables: dict[str, int]


class BillingRunOut(BaseModel):
    cycle: dict[str, int]
    dunning: dict[str, int]


class MonthRange(BaseModel):
    first: date
    last: date
