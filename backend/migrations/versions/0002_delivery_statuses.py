"""delivery statuses

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 23:24:01.791047
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.types


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delivery_statuses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("error_code", sa.String(length=12), nullable=True),
        sa.Column("received_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_statuses")),
        sa.UniqueConstraint(
            "channel",
            "provider_id",
            "status",
            name=op.f("uq_delivery_statuses_channel_provider_id_status"),
        ),
    )


def downgrade() -> None:
    op.drop_table("delivery_statuses")
