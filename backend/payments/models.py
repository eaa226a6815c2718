from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, JSONDict, UTCDateTime, utcnow

PAYMENT_METHOD_KINDS = ("card", "oxxo", "spei", "cash", "credit", "wallet")
PAYMENT_STATUSES = (
    "pending",
    "in_process",
    "approved",
    "rejected",
    "cancelled",
    "refunded",
    "charged_back",
)
# How a member is asked to pay: a hosted checkout link, an OXXO voucher, a SPEI transfer.
PAYMENT_REQUEST_KINDS = ("checkout", "oxxo", "spei")
PAYMENT_REQUEST_STATUSES = ("live", "paid", "expired", "replaced", "canceled")
NOTIFICATION_STATUSES = ("received", "applied", "noted", "held", "ignored", "rejected", "failed")


class PaymentMethod(Base):
    """A saved card: the provider's customer and card ids only, never card numbers."""

    __tablename__ = "payment_methods"
    __table_args__ = (Index("ix_payment_methods_member", "gym_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    provider_customer_id: Mapped[str] = mapped_column(String(80))
    provider_card_id: Mapped[str] = mapped_column(String(80))
    brand: Mapped[str] = mapped_column(String(20), default="")
    last4: Mapped[str] = mapped_column(String(4), default="")
    exp_month: Mapped[int | None] = mapped_column(Integer)
    exp_year: Mapped[int | None] = mapped_column(Integer)
    # The provider's card fingerprint: the same physical card across members (fraud rules).
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Payment(Base):
    """Money received (or attempted) for an invoice, as the provider reported it."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "provider_payment_id"),
        Index("ix_payments_invoice", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(10))
    provider: Mapped[str] = mapped_column(String(20))
    provider_payment_id: Mapped[str | None] = mapped_column(String(80))
    # Our key per logical operation: a retried charge cannot charge twice.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(14))
    status_detail: Mapped[str] = mapped_column(String(80), default="")
    payment_method_id: Mapped[int | None] = mapped_column(ForeignKey("payment_methods.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Money given back so far (partial refunds add up; a full refund equals the amount).
    refunded_cents: Mapped[int] = mapped_column(Integer, default=0)
    # The link/voucher/transfer it paid, when it came through one.
    payment_request_id: Mapped[int | None] = mapped_column(ForeignKey("payment_requests.id"))
    external_reference: Mapped[str] = mapped_column(String(64), default="")
    # Approved but not applied, waiting for staff: amount_mismatch, already_paid, currency.
    held_reason: Mapped[str | None] = mapped_column(String(30))


payment_request_invoices = Table(
    "payment_request_invoices",
    Base.metadata,
    Column(
        "payment_request_id",
        ForeignKey("payment_requests.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("invoice_id", ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_payment_request_invoices_invoice", "invoice_id"),
)


class PaymentRequest(Base):
    """What we asked a member to pay and how: a Checkout Pro link, an OXXO voucher or a
    SPEI transfer, for one or more open invoices. `external_reference` travels with the
    provider's payment and brings it back to these invoices."""

    __tablename__ = "payment_requests"
    __table_args__ = (Index("ix_payment_requests_member", "gym_id", "member_id", "status"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(20))
    external_reference: Mapped[str] = mapped_column(String(64), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    # The preference id (checkout) or the provider's payment id (OXXO, SPEI).
    provider_ref: Mapped[str] = mapped_column(String(80), default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    reference: Mapped[str] = mapped_column(String(80), default="")
    clabe: Mapped[str] = mapped_column(String(18), default="")
    bank: Mapped[str] = mapped_column(String(60), default="")
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="live")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaymentNotification(Base):
    """A provider webhook as received (signature checked): stored once per delivery key,
    processed by a job that trusts only the provider's own lookup."""

    __tablename__ = "payment_notifications"
    __table_args__ = (UniqueConstraint("provider", "dedupe_key"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    gym_id: Mapped[int | None] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    account: Mapped[str] = mapped_column(String(40), default="")
    topic: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60), default="")
    data_id: Mapped[str] = mapped_column(String(80))
    request_id: Mapped[str] = mapped_column(String(80), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="received")
    detail: Mapped[str] = mapped_column(String(200), default="")
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PaymentAlert(Base):
    """Something about money that staff must look at: a payment held for review, a
    chargeback, a refund, a reconciliation mismatch. One per (gym, kind, subject)."""

    __tablename__ = "payment_alerts"
    __table_args__ = (
        UniqueConstraint("gym_id", "kind", "subject"),
        Index("ix_payment_alerts_open", "gym_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    subject: Mapped[str] = mapped_column(String(80))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    message: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDict, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(60))


class GymPaymentAccount(Base):
    """A gym's own Mercado Pago account; secrets encrypted (backend.crypto)."""

    __tablename__ = "gym_payment_accounts"

    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(20), default="mercadopago")
    # Mercado Pago's `user_id` (the collector): how a webhook finds its gym.
    user_id: Mapped[str] = mapped_column(String(40), unique=True)
    access_token_encrypted: Mapped[str] = mapped_column(Text)
    webhook_secret_encrypted: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
