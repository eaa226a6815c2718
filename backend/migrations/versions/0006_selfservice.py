"""selfservice: gym holidays and settings (amenities, retention offers, privacy notice),
handoff tickets, privacy (ARCO) requests, and media on outbox messages

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 01:00:12.101995
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "selfservice_settings",
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "amenities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "retention_offers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("privacy_notice_url", sa.String(length=300), nullable=True),
        sa.Column("handoff_reply_minutes", sa.Integer(), nullable=False),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_selfservice_settings_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("gym_id", name=op.f("pk_selfservice_settings")),
    )
    op.create_table(
        "gym_holidays",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "location_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("opens", sa.String(length=5), nullable=True),
        sa.Column("closes", sa.String(length=5), nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_gym_holidays_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_gym_holidays_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gym_holidays")),
    )
    with op.batch_alter_table("gym_holidays", schema=None) as batch_op:
        batch_op.create_index("ix_gym_holidays_gym_day", ["gym_id", "day"], unique=False)

    op.create_table(
        "handoff_tickets",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column(
            "context",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("opened_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("silence_until", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("first_reply_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_reply_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.String(length=60), nullable=True),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_handoff_tickets_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_handoff_tickets_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_tickets")),
    )
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_handoff_tickets_gym_opened", ["gym_id", "opened_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_handoff_tickets_member", ["gym_id", "member_id", "status"], unique=False
        )

    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=22), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requested_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("verified_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("due_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_by", sa.String(length=60), nullable=True),
        sa.Column(
            "result",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_privacy_requests_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_privacy_requests_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_privacy_requests_gym_requested", ["gym_id", "requested_at", "id"], unique=False
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_url", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("media_url")

    with op.batch_alter_table("privacy_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_privacy_requests_gym_requested")

    op.drop_table("privacy_requests")
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_tickets_member")
        batch_op.drop_index("ix_handoff_tickets_gym_opened")

    op.drop_table("handoff_tickets")
    with op.batch_alter_table("gym_holidays", schema=None) as batch_op:
        batch_op.drop_index("ix_gym_holidays_gym_day")

    op.drop_table("gym_holidays")
    op.drop_table("selfservice_settings")
