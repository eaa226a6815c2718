"""Referral programs, members' personal codes, the friends who redeemed them (referrals),
the rewards each side got, and time-boxed premium features granted as a reward."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

# What the member who shares the code gets when a friend converts.
REFERRER_REWARDS = ("free_days", "credit", "percent_off", "feature")
# What the friend gets: applied as balance credit to their first invoice.
REFERRED_REWARDS = ("none", "first_month_discount", "waived_enrollment", "credit")
CODE_STATUSES = ("issued", "expired", "revoked")
# issued (the code) → redeemed → converted (first paid invoice) → rewarded | expired | rejected
REFERRAL_STATUSES = ("redeemed", "converted", "rewarded", "expired", "rejected")
REVIEW_STATUSES = ("none", "pending", "approved", "rejected")
REWARD_STATUSES = ("granted", "pending_review", "capped", "rejected", "reversed")
DEFAULT_TIERS: list[dict[str, Any]] = [
    {"name": "Embajador Bronce", "min_conversions": 3, "bonus_percent": 50},
    {"name": "Embajador Plata", "min_conversions": 10, "bonus_percent": 100},
    {"name": "Embajador Oro", "min_conversions": 25, "bonus_percent": 200},
]


class ReferralProgram(Base):
    """One campaign of a gym; several may run at once (the chat uses the top priority)."""

    __tablename__ = "referral_programs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Among live programs the chat issues codes of the highest priority (then the newest).
    priority: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    referrer_reward: Mapped[str] = mapped_column(String(12))
    # days (free_days, feature), centavos (credit) or percent (percent_off)
    referrer_value: Mapped[int] = mapped_column(Integer)
    referrer_feature: Mapped[str | None] = mapped_column(String(40))
    referred_reward: Mapped[str] = mapped_column(String(20), default="none")
    # percent (first_month_discount) or centavos (credit); unused for waived_enrollment
    referred_value: Mapped[int] = mapped_column(Integer, default=0)
    # The plan the friend's offer is priced on; None: the cheapest public monthly plan.
    referred_plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))
    # Eligibility: the referrer has an active subscription and first paid this long ago.
    min_paid_days: Mapped[int] = mapped_column(Integer, default=0)
    # Issued codes expire after this many days (None: never).
    code_valid_days: Mapped[int | None] = mapped_column(Integer)
    # A redeemed referral that does not convert within this many days expires.
    conversion_days: Mapped[int] = mapped_column(Integer, default=30)
    # Friends per code (1: one-use codes; None: unlimited).
    max_uses_per_code: Mapped[int | None] = mapped_column(Integer)
    # Caps per gym-local calendar month: rewards per referrer, and reward cost overall.
    monthly_cap_per_referrer: Mapped[int | None] = mapped_column(Integer)
    monthly_budget_cents: Mapped[int | None] = mapped_column(Integer)
    # [{"name", "min_conversions", "referrer_value" | "bonus_percent"}]: ambassador levels
    # whose referrer reward replaces (referrer_value) or raises (bonus_percent) the base one.
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONDict, default=list)
    # Fraud rules.
    review_above_cents: Mapped[int | None] = mapped_column(Integer)
    velocity_per_day: Mapped[int] = mapped_column(Integer, default=5)
    ex_member_days: Mapped[int] = mapped_column(Integer, default=90)
    terms: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReferralCode(Base):
    """A member's personal code in one program, e.g. ANA-4821 (unique per gym)."""

    __tablename__ = "referral_codes"
    __table_args__ = (
        UniqueConstraint("gym_id", "normalized"),
        UniqueConstraint("program_id", "member_id"),
        Index("ix_referral_codes_member", "gym_id", "member_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(
        ForeignKey("referral_programs.id", ondelete="CASCADE"), index=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(20))  # as shown: ANA-4821
    normalized: Mapped[str] = mapped_column(String(20))  # as matched: ANA4821
    status: Mapped[str] = mapped_column(String(10), default="issued")
    # Friends who redeemed it (bounded by the program's max_uses_per_code).
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Referral(Base):
    """A friend who redeemed a code: attribution, lifecycle and fraud review."""

    __tablename__ = "referrals"
    # One attribution per person per gym: the first code redeemed wins.
    __table_args__ = (
        UniqueConstraint("gym_id", "referred_id"),
        Index("ix_referrals_referrer", "gym_id", "referrer_id", "status"),
        Index("ix_referrals_program_status", "program_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(ForeignKey("referral_programs.id", ondelete="CASCADE"))
    code_id: Mapped[int] = mapped_column(
        ForeignKey("referral_codes.id", ondelete="CASCADE"), index=True
    )
    referrer_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    referred_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(10), default="redeemed")
    review_status: Mapped[str] = mapped_column(String(10), default="none")
    # Why it was sent to review: ["velocity", "same_card", "high_value", ...].
    flags: Mapped[list[str]] = mapped_column(JSONDict, default=list)
    reject_reason: Mapped[str | None] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(10), default="whatsapp")
    redeemed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Unconverted by then, it expires.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    converted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    rewarded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(60))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class ReferralReward(Base):
    """What one side of a referral got (or is waiting for): granted once per side."""

    __tablename__ = "referral_rewards"
    __table_args__ = (
        UniqueConstraint("referral_id", "side"),
        Index("ix_referral_rewards_member", "gym_id", "member_id", "granted_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    program_id: Mapped[int] = mapped_column(ForeignKey("referral_programs.id", ondelete="CASCADE"))
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    side: Mapped[str] = mapped_column(String(10))  # referrer | referred
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[int] = mapped_column(Integer)
    # What it costs the gym, in centavos (credit, discount, days of the plan's price).
    amount_cents: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str | None] = mapped_column(String(40))
    credit_entry_id: Mapped[int | None] = mapped_column(ForeignKey("credit_entries.id"))
    feature_grant_id: Mapped[int | None] = mapped_column(
        ForeignKey("member_feature_grants.id", ondelete="SET NULL")
    )
    granted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FeatureGrant(Base):
    """A premium feature (e.g. body_scan) a member may use until `ends_at`."""

    __tablename__ = "member_feature_grants"
    __table_args__ = (Index("ix_member_feature_grants_member", "gym_id", "member_id", "feature"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    feature: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40), default="referral")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
