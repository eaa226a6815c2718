"""cfdi: gym fiscal profiles, member fiscal data, CFDI documents and factura global items

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gym_fiscal_profiles",
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rfc", sa.String(length=13), nullable=False),
        sa.Column("legal_name", sa.String(length=300), nullable=False),
        sa.Column("regimen", sa.String(length=3), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("next_folio", sa.Integer(), nullable=False),
        sa.Column("credit_note_series", sa.String(length=10), nullable=False),
        sa.Column("global_series", sa.String(length=10), nullable=False),
        sa.Column("global_periodicity", sa.String(length=2), nullable=False),
        sa.Column("csd_certificate", sa.Text(), nullable=True),
        sa.Column("csd_key_encrypted", sa.Text(), nullable=True),
        sa.Column("csd_password_encrypted", sa.Text(), nullable=True),
        sa.Column("csd_number", sa.String(length=20), nullable=True),
        sa.Column("csd_valid_until", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("pac_provider", sa.String(length=12), nullable=False),
        sa.Column("pac_environment", sa.String(length=10), nullable=False),
        sa.Column("pac_credentials_encrypted", sa.Text(), nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_gym_fiscal_profiles_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_gym_fiscal_profiles")),
    )
    op.create_table(
        "member_fiscal_profiles",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rfc", sa.String(length=13), nullable=False),
        sa.Column("legal_name", sa.String(length=300), nullable=False),
        sa.Column("regimen", sa.String(length=3), nullable=False),
        sa.Column("postal_code", sa.String(length=5), nullable=False),
        sa.Column("uso_cfdi", sa.String(length=4), nullable=False),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_member_fiscal_profiles_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_fiscal_profiles_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_fiscal_profiles")),
        sa.UniqueConstraint(
            "gym_id", "member_id", name=op.f("uq_member_fiscal_profiles_gym_id_member_id")
        ),
    )
    op.create_table(
        "cfdi_documents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "related_document_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=True,
        ),
        sa.Column("idempotency_key", sa.String(length=120), nullable=False),
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("folio", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("simulated", sa.Boolean(), nullable=False),
        sa.Column("pac_provider", sa.String(length=12), nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=True),
        sa.Column("receptor_rfc", sa.String(length=13), nullable=False),
        sa.Column("receptor_name", sa.String(length=300), nullable=False),
        sa.Column("uso_cfdi", sa.String(length=4), nullable=False),
        sa.Column("forma_pago", sa.String(length=2), nullable=False),
        sa.Column("subtotal_cents", sa.Integer(), nullable=False),
        sa.Column("discount_cents", sa.Integer(), nullable=False),
        sa.Column("tax_cents", sa.Integer(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("issued_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("global_periodicity", sa.String(length=2), nullable=True),
        sa.Column("global_months", sa.String(length=2), nullable=True),
        sa.Column("global_year", sa.Integer(), nullable=True),
        sa.Column("period_start", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("period_end", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("xml", sa.Text(), nullable=True),
        sa.Column("pdf", sa.LargeBinary(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("alerted_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("stamped_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_motive", sa.String(length=2), nullable=True),
        sa.Column("cancel_substitute_uuid", sa.String(length=36), nullable=True),
        sa.Column("cancel_requested_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("canceled_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancel_ack", sa.Text(), nullable=True),
        sa.Column("retain_until", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_cfdi_documents_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_cfdi_documents_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_cfdi_documents_payment_id_payments")
        ),
        sa.ForeignKeyConstraint(
            ["related_document_id"],
            ["cfdi_documents.id"],
            name=op.f("fk_cfdi_documents_related_document_id_cfdi_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfdi_documents")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_cfdi_documents_idempotency_key")),
        sa.UniqueConstraint("uuid", name=op.f("uq_cfdi_documents_uuid")),
    )
    with op.batch_alter_table("cfdi_documents", schema=None) as batch_op:
        batch_op.create_index("ix_cfdi_documents_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_cfdi_documents_gym_issued", ["gym_id", "issued_at", "id"], unique=False
        )
        batch_op.create_index("ix_cfdi_documents_member", ["gym_id", "member_id"], unique=False)
        batch_op.create_index("ix_cfdi_documents_payment", ["payment_id"], unique=False)

    op.create_table(
        "cfdi_global_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "document_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "payment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ticket", sa.String(length=40), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["cfdi_documents.id"],
            name=op.f("fk_cfdi_global_items_document_id_cfdi_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_cfdi_global_items_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_cfdi_global_items_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfdi_global_items")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_cfdi_global_items_payment_id")),
    )
    with op.batch_alter_table("cfdi_global_items", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cfdi_global_items_document_id"), ["document_id"], unique=False
        )


def downgrade() -> None:
    # Dropping a table drops its indexes too.
    op.drop_table("cfdi_global_items")
    op.drop_table("cfdi_documents")
    op.drop_table("member_fiscal_profiles")
    op.drop_table("gym_fiscal_profiles")
