"""Fiscal data and CFDI documents.

A `CfdiDocument` is one CFDI (Ingreso, Egreso or the factura global) from the moment its
number is taken until it is stamped, sent and, maybe, cancelled. Its `idempotency_key` is
unique per logical event ("ingreso:payment:42"), so one payment is never stamped twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base
from backend.types import BigIntPK, UTCDateTime, utcnow

PAC_PROVIDERS = ("simulated", "finkok", "swsapien", "diverza")
PAC_ENVIRONMENTS = ("test", "production")
DOCUMENT_KINDS = ("I", "E")  # SAT c_TipoDeComprobante: Ingreso, Egreso
DOCUMENT_SCOPES = ("nominative", "global")
# pending: numbered and signed, waiting for the PAC (retried with backoff);
# stamped: has its UUID; failed: the PAC (or our own checks) refused it for good;
# cancel_pending: the PAC took the cancellation, the receiver has to accept it;
# canceled: SAT shows it cancelled.
DOCUMENT_STATUSES = ("pending", "stamped", "failed", "cancel_pending", "canceled")
CANCEL_MOTIVES = ("01", "02", "03", "04")
GLOBAL_PERIODICITIES = ("01", "04")  # SAT c_Periodicidad: diario, mensual


class GymFiscalProfile(Base):
    """The gym as CFDI issuer: RFC, régimen, lugar de expedición, numbering, CSD and PAC."""

    __tablename__ = "gym_fiscal_profiles"

    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"), primary_key=True)
    rfc: Mapped[str] = mapped_column(String(13))
    legal_name: Mapped[str] = mapped_column(String(300))
    regimen: Mapped[str] = mapped_column(String(3))
    postal_code: Mapped[str] = mapped_column(String(5))  # lugar de expedición
    series: Mapped[str] = mapped_column(String(10), default="F")
    next_folio: Mapped[int] = mapped_column(Integer, default=1)
    credit_note_series: Mapped[str] = mapped_column(String(10), default="NC")
    global_series: Mapped[str] = mapped_column(String(10), default="G")
    global_periodicity: Mapped[str] = mapped_column(String(2), default="04")
    # The CSD: the certificate is public (base64 DER); the key and its password are Fernet
    # tokens (backend.crypto), never stored in clear.
    csd_certificate: Mapped[str | None] = mapped_column(Text)
    csd_key_encrypted: Mapped[str | None] = mapped_column(Text)
    csd_password_encrypted: Mapped[str | None] = mapped_column(Text)
    csd_number: Mapped[str | None] = mapped_column(String(20))
    csd_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    pac_provider: Mapped[str] = mapped_column(String(12), default="simulated")
    pac_environment: Mapped[str] = mapped_column(String(10), default="test")
    # JSON with the provider's credentials (user/password, token, id), encrypted.
    pac_credentials_encrypted: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MemberFiscalProfile(Base):
    """A member's data as CFDI receiver, exactly as in their Constancia de Situación Fiscal."""

    __tablename__ = "member_fiscal_profiles"
    __table_args__ = (UniqueConstraint("gym_id", "member_id"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    rfc: Mapped[str] = mapped_column(String(13))
    legal_name: Mapped[str] = mapped_column(String(300))
    regimen: Mapped[str] = mapped_column(String(3))
    postal_code: Mapped[str] = mapped_column(String(5))
    uso_cfdi: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CfdiDocument(Base):
    __tablename__ = "cfdi_documents"
    __table_args__ = (
        Index("ix_cfdi_documents_gym_issued", "gym_id", "issued_at", "id"),
        Index("ix_cfdi_documents_member", "gym_id", "member_id"),
        Index("ix_cfdi_documents_due", "status", "next_attempt_at"),
        Index("ix_cfdi_documents_payment", "payment_id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(1))
    scope: Mapped[str] = mapped_column(String(10), default="nominative")
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"))
    # Egreso → the Ingreso it credits; a substitute → the CFDI it replaces.
    related_document_id: Mapped[int | None] = mapped_column(ForeignKey("cfdi_documents.id"))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    series: Mapped[str] = mapped_column(String(10))
    folio: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(14), default="pending")
    # Stamped by the simulated PAC: NOT fiscally valid, and every view of it says so.
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    pac_provider: Mapped[str] = mapped_column(String(12), default="simulated")
    uuid: Mapped[str | None] = mapped_column(String(36), unique=True)
    receptor_rfc: Mapped[str] = mapped_column(String(13))
    receptor_name: Mapped[str] = mapped_column(String(300))
    uso_cfdi: Mapped[str] = mapped_column(String(4))
    forma_pago: Mapped[str] = mapped_column(String(2))
    subtotal_cents: Mapped[int] = mapped_column(Integer, default=0)
    discount_cents: Mapped[int] = mapped_column(Integer, default=0)
    tax_cents: Mapped[int] = mapped_column(Integer, default=0)
    total_cents: Mapped[int] = mapped_column(Integer, default=0)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # Fecha
    # Factura global: the period it covers (InformacionGlobal).
    global_periodicity: Mapped[str | None] = mapped_column(String(2))
    global_months: Mapped[str | None] = mapped_column(String(2))
    global_year: Mapped[int | None] = mapped_column(Integer)
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The signed XML until stamped, then the stamped one (what SAT has).
    xml: Mapped[str | None] = mapped_column(Text)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stamped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_motive: Mapped[str | None] = mapped_column(String(2))
    cancel_substitute_uuid: Mapped[str | None] = mapped_column(String(36))
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_ack: Mapped[str | None] = mapped_column(Text)
    # Art. 30 CFF: keep for five years; nothing in the app deletes before this date.
    retain_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class CfdiGlobalItem(Base):
    """One ticket (payment) inside a factura global: a payment is in at most one."""

    __tablename__ = "cfdi_global_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    gym_id: Mapped[int] = mapped_column(ForeignKey("gyms.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(
        ForeignKey("cfdi_documents.id", ondelete="CASCADE"), index=True
    )
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
    ticket: Mapped[str] = mapped_column(String(40))  # NoIdentificacion: the receipt folio
    amount_cents: Mapped[int] = mapped_column(Integer)
