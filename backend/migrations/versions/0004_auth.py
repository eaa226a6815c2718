"""REST API auth: refresh tokens, API keys, the front_desk role renamed staff

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

import backend.types


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "refresh_tokens",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("gym_id", BigIntPK, nullable=False),
        sa.Column("staff_user_id", BigIntPK, nullable=False),
        sa.Column("family_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_refresh_tokens_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_refresh_tokens_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
    )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_refresh_tokens_gym_id"), ["gym_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_staff_user_id"), ["staff_user_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_refresh_tokens_family_id"), ["family_id"], unique=False
        )

    op.create_table(
        "api_keys",
        sa.Column("id", BigIntPK, nullable=False),
        sa.Column("gym_id", BigIntPK, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_by", BigIntPK, nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_api_keys_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["staff_users.id"],
            name=op.f("fk_api_keys_created_by_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_gym_id"), ["gym_id"], unique=False)

    # Keyset pagination of a gym's members, newest first.
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            "ix_members_gym_created", ["gym_id", "created_at", "id"], unique=False
        )

    op.execute("UPDATE staff_users SET role = 'staff' WHERE role = 'front_desk'")


def downgrade() -> None:
    op.execute("UPDATE staff_users SET role = 'front_desk' WHERE role = 'staff'")
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_gym_created")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_gym_id"))
    op.drop_table("api_keys")
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_family_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_staff_user_id"))
        batch_op.drop_index(batch_op.f("ix_refresh_tokens_gym_id"))
    op.drop_table("refresh_tokens")
