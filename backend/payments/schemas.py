from __future__ import annotations

from datetime import datetime
from typing import Any

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


class CardTokenIn(BaseModel):
    """A card token made in the member's browser by Mercado Pago's JS SDK (never a number)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member_id: int
    card_token: str = Field(min_length=8, max_length=100)
    make_default: bool = True


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    invoice_id: int | None
    amount_cents: int
    refunded_cents: int
    method: str
    provider: str
    provider_payment_id: str | None
    status: str
    status_detail: str
    held_reason: str | None
    external_reference: str
    created_at: datetime
    applied_at: datetime | None


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # None: everything not yet refunded (a full refund).
    amount_cents: int | None = Field(default=None, gt=0, le=100_000_000)


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    subject: str
    payment_id: int | None
    invoice_id: int | None
    message: str
    data: dict[str, Any]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None


class PaymentAccountIn(BaseModel):
    """The gym's own Mercado Pago credentials (stored encrypted, never shown again)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    user_id: str = Field(min_length=1, max_length=40, pattern=r"^\d+$")
    access_token: str = Field(min_length=10, max_length=300)
    webhook_secret: str = Field(min_length=8, max_length=300)
    public_key: str = Field(default="", max_length=120)


class PaymentAccountOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    gym_id: int
    provider: str
    user_id: str
    public_key: str
    updated_at: datetime
