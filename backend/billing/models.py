from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

PLAN_INTERVALS = ("day", "week", "month", "quarter", "year")
PLAN_KINDS = ("membership", "addon")
SUBSCRIPTION_STATUSES = (
    "trialing",
    "active",
    "past_due",
    "suspended",
    "canceled",
    "expired",
    "paused",
)
# Statuses whose holder may come in: past_due is the dunning grace (access kept, reminded);
# suspended (grace over), paused, canceled and expired are refused.
ACCESS_STATUSES = ("trialing", "active", "past_due")
# Statuses the billing cycle still renews at period end.
LIVE_STATUSES = ("trialing", "active", "past_due", "suspended", "paused")
INVOICE_STATUSES = ("draft", "open", "paid", "void", "uncollectible")
INVOICE_LINE_KINDS = ("plan", "proration", "enrollment", "addon", "seat", "fee", "discount")
CREDIT_REASONS = ("downgrade", "referral", "goodwill", "refund", "applied", "reversal")

plan_locations = Table(
    "plan_locations",
    Base.metadata,
    Column("plan_id", ForeignKey("plans.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True),
)


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("gym_id", "code"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    price_cents: Mapped[int] = mapped_column(Integer)  # MXN centavos, IVA included
    interval: Mapped[str] = mapped_column(String(10))
    interval_count: Mapped[int] = mapped_column(Integer, default=1)
    # Offered to prospects in the chat; day passes and internal plans are not.
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # True: every location of the gym; False: only those in plan_locations.
    all_locations: Mapped[bool] = mapped_column(Boolean, default=True)
    kind: Mapped[str] = mapped_column(String(12), default="membership")
    description: Mapped[str] = mapped_column(String(300), default="")
    enrollment_fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    # Classes per period; None means unlimited.
    class_credits: Mapped[int | None] = mapped_column(Integer)
    # {"body_scan": true, ...}: what the plan unlocks beyond access.
    features: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    # Family plans: people covered (the payer included); extra seats are added members.
    seats: Mapped[int] = mapped_column(Integer, default=1)
    # Corporate plans are invoiced to the member's company, not to the member.
    corporate: Mapped[bool] = mapped_column(Boolean, default=False)
    promo_price_cents: Mapped[int | None] = mapped_column(Integer)
    promo_starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promo_ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def price_at(self, when: datetime) -> int:
        """The price that applies at `when`: the promotion inside its window, else the list."""
        if (
            self.promo_price_cents is not None
            and (self.promo_starts_at is None or self.promo_starts_at <= when)
            and (self.promo_ends_at is None or when < self.promo_ends_at)
        ):
            return self.promo_price_cents
        return self.price_cents


class Company(Base):
    """An employer that pays its staff's corporate memberships."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    rfc: Mapped[str | None] = mapped_column(String(13))
    email: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_member_status", "member_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(12))
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime)
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    # A downgrade waiting for the period end.
    pending_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # When an unpaid renewal made it past_due (the dunning clock starts here).
    past_due_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resume_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Remaining class credits this period; None means unlimited.
    class_credits_remaining: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class SubscriptionSeat(Base):
    """A family member covered by someone else's family plan."""

    __tablename__ = "subscription_seats"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(
        ForeignKey("members.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SubscriptionAddon(Base):
    """An add-on plan (towel service, locker…) billed with the subscription each period."""

    __tablename__ = "subscription_addons"

    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True
    )
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Invoice(Base):
    """The commercial document a member owes or paid (the CFDI is a separate document)."""

    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("gym_id", "number"),
        Index("ix_invoices_member_status", "member_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscriptions.id"))
    number: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(14))
    # total = subtotal + tax, IVA included in consumer prices; amount_due = total - credit.
    subtotal_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer)
    credit_applied_cents: Mapped[int] = mapped_column(Integer, default=0)
    amount_due_cents: Mapped[int] = mapped_column(Integer, default=0)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"))
    # Why it exists ("renewal", "trial_conversion", "upgrade", "signup", "manual").
    reason: Mapped[str] = mapped_column(String(20), default="manual")
    # One invoice per logical event (e.g. "renewal:<sub>:<period start>"): running the
    # billing cycle twice, or twice at once, cannot invoice twice.
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    # How payment of this invoice was last asked or attempted (dunning reads it).
    last_charge_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    charge_attempts: Mapped[int] = mapped_column(Integer, default=0)


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("amount_cents = subtotal_cents + tax_cents", name="line_amount_sums"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    description: Mapped[str] = mapped_column(String(200))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    unit_price_cents: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(Integer)  # IVA included
    subtotal_cents: Mapped[int] = mapped_column(Integer)
    tax_cents: Mapped[int] = mapped_column(Integer)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InvoiceSeries(Base):
    """Per-gym invoice numbering; the row is locked while a number is taken."""

    __tablename__ = "invoice_series"

    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(10), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class CreditEntry(Base):
    """Balance-credit ledger: grants are positive, uses negative; the balance is the sum."""

    __tablename__ = "credit_entries"
    __table_args__ = (Index("ix_credit_entries_member", "gym_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(12))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    # Makes a grant from an outside event (a referral reward, a payment) happen once.
    idempotency_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    created_by: Mapped[str] = mapped_column(String(60), default="system")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DunningNotice(Base):
    """One dunning step done for one invoice (reminder, card retry, suspension) — done once."""

    __tablename__ = "dunning_notices"
    __table_args__ = (UniqueConstraint("invoice_id", "action", "day"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(10))  # reminder | retry | suspend
    day: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(40), default="")
    done_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
