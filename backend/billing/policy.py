"""A gym's billing policy: its `billing_settings` overrides on top of sane defaults."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


class DunningSchedule(BaseModel):
    # Days after the invoice falls due: remind with the amount and how to pay.
    reminder_days: list[int] = Field(default_factory=lambda: [0, 1, 3, 7])
    # Days on which a saved card is charged again.
    retry_days: list[int] = Field(default_factory=lambda: [1, 4])
    # Access is suspended this many days after the invoice fell due.
    grace_days: int = Field(default=7, ge=0, le=60)

    @field_validator("reminder_days", "retry_days")
    @classmethod
    def _days(cls, days: list[int]) -> list[int]:
        if any(d < 0 or d > 90 for d in days):
            raise ValueError("dunning days go from 0 to 90")
        return sorted(set(days))


class BillingPolicy(BaseModel):
    series: str = Field(default="A", pattern=r"^[A-Z]{1,5}$")
    # Days a renewal invoice stays open before it is overdue.
    due_days: int = Field(default=0, ge=0, le=30)
    dunning: DunningSchedule = Field(default_factory=DunningSchedule)
    # "period_end": a downgrade waits for the period end; "immediate_credit": it applies at
    # once and the unused difference becomes balance credit.
    downgrade: Literal["period_end", "immediate_credit"] = "period_end"
    # No proactive message between these local hours (start inclusive, end exclusive).
    quiet_start_hour: int = Field(default=21, ge=0, le=23)
    quiet_end_hour: int = Field(default=8, ge=0, le=23)
    max_pause_days: int = Field(default=90, ge=1, le=365)
    min_pause_days: int = Field(default=7, ge=1, le=365)
    pauses_per_year: int = Field(default=2, ge=0, le=12)
    # Charged (IVA included) when a member freezes their membership; 0 = free.
    pause_fee_cents: int = Field(default=0, ge=0, le=1_000_000)
    # Upgrades: prorated charge at once (by day). Always true here; kept explicit for docs.
    prorate_upgrades: bool = True


def policy_of(settings: dict[str, Any] | None) -> BillingPolicy:
    """The gym's policy; invalid stored overrides fall back to defaults key by key."""
    try:
        return BillingPolicy.model_validate(settings or {})
    except ValueError:
        return BillingPolicy()
