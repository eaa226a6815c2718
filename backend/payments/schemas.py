from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class PaymentMethodCreate(BaseModel):
    """A card already tokenized by the provider: its customer and card ids, never a number."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member_id: int
    provider: str = Field(default="mercadopago", pattern=r"^(mercadopago|fake)$")
    customer_id: str = Field(min_length=1, max_length=80)
    card_id: str = Field(min_length=1, max_length=80)
    brand: str = Field(default="", max_length=20)
    last4: str = Field(default="", pattern=r"^(\d{4})?$")
    exp_month: int | None = Field(default=None, ge=1, le=12)
    exp_year: int | None = Field(default=None, ge=2000, le=2100)
    fingerprint: str | None = Field(default=None, max_length=80)
    make_default: bool = False


class PaymentMethodOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    provider: str
    brand: str
    last4: str
    exp_month: int | None
    exp_year: int | None
    is_default: bool
    created_at: datetime
