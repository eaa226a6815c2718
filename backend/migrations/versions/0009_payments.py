"""payments: payment requests (links, OXXO, SPEI), provider notifications, staff alerts,
gyms' own Mercado Pago accounts, and refund/hold columns on payments

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-24 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, backend.types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "payment_requests",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("gym_id", BIGINT, nullable=False),
        sa.Column("member_id", BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("external_reference", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("provider_ref", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("reference", sa.String(length=80), nullable=False),
        sa.Column("clabe", sa.String(length=18), nullable=False),
        sa.Column("bank", sa.String(length=60), nullable=False),
        _ts("expires_at", nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_payment_requests_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_payment_requests_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_requests")),
        sa.UniqueConstraint(
            "external_reference", name=op.f("uq_payment_requests_external_reference")
        ),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_payment_requests_idempotency_key")),
    )
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payment_requests_member", ["gym_id", "member_id", "status"], unique=False
        )

    op.create_table(
        "payment_request_invoices",
        sa.Column("payment_request_id", BIGINT, nullable=False),
        sa.Column("invoice_id", BIGINT, nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"],
            ["invoices.id"],
            name=op.f("fk_payment_request_invoices_invoice_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["payment_request_id"],
            ["payment_requests.id"],
            name=op.f("fk_payment_request_invoices_payment_request_id_payment_requests"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "payment_request_id", "invoice_id", name=op.f("pk_payment_request_invoices")
        ),
    )
    with op.batch_alter_table("payment_request_invoices", schema=None) as batch_op:
        batch_op.create_index("ix_payment_request_invoices_invoice", ["invoice_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refunded_cents", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("payment_request_id", BIGINT, nullable=True))
        batch_op.add_column(
            sa.Column("external_reference", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("held_reason", sa.String(length=30), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_payment_request_id_payment_requests"),
            "payment_requests",
            ["payment_request_id"],
            ["id"],
        )

    op.create_table(
        "payment_notifications",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("gym_id", BIGINT, nullable=True),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("data_id", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=80), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        _ts("received_at"),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        _ts("processed_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_payment_notifications_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_notifications")),
        sa.UniqueConstraint(
            "provider", "dedupe_key", name=op.f("uq_payment_notifications_provider_dedupe_key")
        ),
    )

    op.create_table(
        "payment_alerts",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("gym_id", BIGINT, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=False),
        sa.Column("payment_id", BIGINT, nullable=True),
        sa.Column("invoice_id", BIGINT, nullable=True),
        sa.Column("message", sa.String(length=300), nullable=False),
        sa.Column("data", JSON, nullable=False),
        _ts("created_at"),
        _ts("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_payment_alerts_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payment_alerts_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_alerts_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_alerts")),
        sa.UniqueConstraint(
            "gym_id", "kind", "subject", name=op.f("uq_payment_alerts_gym_id_kind_subject")
        ),
    )
    with op.batch_alter_table("payment_alerts", schema=None) as batch_op:
        batch_op.create_index("ix_payment_alerts_open", ["gym_id", "resolved_at"], unique=False)

    op.create_table(
        "gym_payment_accounts",
        sa.Column("gym_id", BIGINT, nullable=False),
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("access_token_encrypted", sa.Text(), nullable=False),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=False),
        sa.Column("public_key", sa.String(length=120), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_gym_payment_accounts_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_gym_payment_accounts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_gym_payment_accounts_user_id")),
    )


def downgrade() -> None:
    op.drop_table("gym_payment_accounts")
    with op.batch_alter_table("payment_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_alerts_open")
    op.drop_table("payment_alerts")
    op.drop_table("payment_notifications")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_payments_payment_request_id_payment_requests"), type_="foreignkey"
        )
        batch_op.drop_column("held_reason")
        batch_op.drop_column("external_reference")
        batch_op.drop_column("payment_request_id")
        batch_op.drop_column("refunded_cents")
    with op.batch_alter_table("payment_request_invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_request_invoices_invoice")
    op.drop_table("payment_request_invoices")
    with op.batch_alter_table("payment_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_requests_member")
    op.drop_table("payment_requests")
