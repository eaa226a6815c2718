"""Request and response bodies of the referral API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ReferrerReward = Literal["free_days", "credit", "percent_off", "feature"]
ReferredReward = Literal["none", "first_month_discount", "waived_enrollment", "credit"]
ReferralStatus = Literal["redeemed", "converted", "rewarded", "expired", "rejected"]
CodeStatus = Literal["issued", "expired", "revoked"]
ReviewStatus = Literal["none", "pending", "approved", "rejected"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Output(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Tier(_Input):
    name: str = Field(min_length=1, max_length=40)
    min_conversions: int = Field(ge=1, le=10_000)
    referrer_value: int | None = Field(
        default=None, ge=1, description="Replaces the base referrer reward value at this level."
    )
    bonus_percent: int | None = Field(
        default=None, ge=1, le=1000, description="Raises the base value by this percent."
    )


class ProgramFields(_Input):
    name: str = Field(min_length=1, max_length=120)
    active: bool = True
    priority: int = Field(default=0, ge=-100, le=100)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    referrer_reward: ReferrerReward
    referrer_value: int = Field(
        ge=1,
        le=10_000_000,
        description="Days (free_days, feature), centavos (credit) or percent (percent_off).",
    )
    referrer_feature: str | None = Field(default=None, min_length=1, max_length=40)
    referred_reward: ReferredReward = "none"
    referred_value: int = Field(default=0, ge=0, le=10_000_000, description="Percent or centavos.")
    referred_plan_id: int | None = None
    min_paid_days: int = Field(default=0, ge=0, le=3650)
    code_valid_days: int | None = Field(default=None, ge=1, le=3650)
    conversion_days: int = Field(default=30, ge=1, le=365)
    max_uses_per_code: int | None = Field(default=None, ge=1, le=100_000)
    monthly_cap_per_referrer: int | None = Field(default=None, ge=0, le=10_000)
    monthly_budget_cents: int | None = Field(default=None, ge=0, le=1_000_000_000)
    tiers: list[Tier] | None = Field(
        default=None, description="Ambassador levels; null: 3, 10 and 25 friends (+50/100/200%)."
    )
    review_above_cents: int | None = Field(default=None, ge=0)
    velocity_per_day: int = Field(default=5, ge=1, le=10_000)
    ex_member_days: int = Field(default=90, ge=0, le=3650)
    terms: str = Field(default="", max_length=500)


class ProgramCreate(ProgramFields):
    pass


class ProgramUpdate(_Input):
    """Only the fields sent change."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    active: bool | None = None
    priority: int | None = Field(default=None, ge=-100, le=100)
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    referrer_reward: ReferrerReward | None = None
    referrer_value: int | None = Field(default=None, ge=1, le=10_000_000)
    referrer_feature: str | None = Field(default=None, min_length=1, max_length=40)
    referred_reward: ReferredReward | None = None
    referred_value: int | None = Field(default=None, ge=0, le=10_000_000)
    referred_plan_id: int | None = None
    min_paid_days: int | None = Field(default=None, ge=0, le=3650)
    code_valid_days: int | None = Field(default=None, ge=1, le=3650)
    conversion_days: int | None = Field(default=None, ge=1, le=365)
    max_uses_per_code: int | None = Field(default=None, ge=1, le=100_000)
    monthly_cap_per_referrer: int | None = Field(default=None, ge=0, le=10_000)
    monthly_budget_cents: int | None = Field(default=None, ge=0, le=1_000_000_000)
    tiers: list[Tier] | None = None
    review_above_cents: int | None = Field(default=None, ge=0)
    velocity_per_day: int | None = Field(default=None, ge=1, le=10_000)
    ex_member_days: int | None = Field(default=None, ge=0, le=3650)
    terms: str | None = Field(default=None, max_length=500)


class ProgramOut(_Output):
    id: int
    gym_id: int
    name: str
    active: bool
    priority: int
    starts_at: datetime | None
    ends_at: datetime | None
    referrer_reward: str
    referrer_value: int
    referrer_feature: str | None
    referred_reward: str
    referred_value: int
    referred_plan_id: int | None
    min_paid_days: int
    code_valid_days: int | None
    conversion_days: int
    max_uses_per_code: int | None
    monthly_cap_per_referrer: int | None
    monthly_budget_cents: int | None
    tiers: list[dict[str, object]]
    review_above_cents: int | None
    velocity_per_day: int
    ex_member_days: int
    terms: str
    created_at: datetime


class CodeIssue(_Input):
    member_id: int
    program_id: int | None = Field(default=None, description="Default: the chat's program.")


class CodeOut(_Output):
    id: int
    program_id: int
    member_id: int
    code: str
    status: str
    uses: int
    expires_at: datetime | None
    created_at: datetime


class ShareOut(CodeOut):
    offer: str = Field(description="The friend's offer, as the member's share text says it.")
    reward: str = Field(description="What the member gets for the next converted friend.")
    share_text: str
    link: str = Field(description="https://wa.me/<gym number>?text=<prefilled message>")


class Redeem(_Input):
    member_id: int = Field(description="The friend (a prospect or new member of this gym).")


class RewardOut(_Output):
    id: int
    side: str
    member_id: int
    kind: str
    value: int
    amount_cents: int
    status: str
    tier: str | None
    granted_at: datetime | None


class ReferralOut(_Output):
    id: int
    program_id: int
    code_id: int
    code: str
    referrer_id: int
    referred_id: int
    status: str
    review_status: str
    flags: list[str]
    reject_reason: str | None
    source: str
    redeemed_at: datetime
    expires_at: datetime | None
    converted_at: datetime | None
    invoice_id: int | None
    rewarded_at: datetime | None
    rewards: list[RewardOut] = []


class RejectBody(_Input):
    reason: str = Field(min_length=1, max_length=200)


class TopReferrerOut(BaseModel):
    member_id: int
    name: str | None
    conversions: int
    tier: str | None


class FiguresOut(BaseModel):
    codes_issued: int
    redemptions: int
    conversions: int
    conversion_rate: float | None
    sharers: int = Field(description="Members holding a code in the period.")
    invites_per_member: float | None = Field(description="Redemptions per member with a code.")
    viral_k: float | None = Field(description="Invites per member × conversion rate.")
    revenue_cents: int = Field(description="Paid by referred members (net of credit).")
    reward_cost_cents: int
    roi: float | None = Field(description="(revenue - reward cost) / reward cost.")
    top_referrers: list[TopReferrerOut]


class MonthOut(FiguresOut):
    month: str


class AnalyticsOut(BaseModel):
    program_id: int
    program: str
    months: list[MonthOut]
    totals: FiguresOut
