"""referrals: programs, personal codes, referrals, rewards and premium feature grants

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import backend.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_programs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("starts_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ends_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("referrer_reward", sa.String(length=12), nullable=False),
        sa.Column("referrer_value", sa.Integer(), nullable=False),
        sa.Column("referrer_feature", sa.String(length=40), nullable=True),
        sa.Column("referred_reward", sa.String(length=20), nullable=False),
        sa.Column("referred_value", sa.Integer(), nullable=False),
        sa.Column(
            "referred_plan_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("min_paid_days", sa.Integer(), nullable=False),
        sa.Column("code_valid_days", sa.Integer(), nullable=True),
        sa.Column("conversion_days", sa.Integer(), nullable=False),
        sa.Column("max_uses_per_code", sa.Integer(), nullable=True),
        sa.Column("monthly_cap_per_referrer", sa.Integer(), nullable=True),
        sa.Column("monthly_budget_cents", sa.Integer(), nullable=True),
        sa.Column(
            "tiers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("review_above_cents", sa.Integer(), nullable=True),
        sa.Column("velocity_per_day", sa.Integer(), nullable=False),
        sa.Column("ex_member_days", sa.Integer(), nullable=False),
        sa.Column("terms", sa.String(length=500), nullable=False),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_referral_programs_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referred_plan_id"],
            ["plans.id"],
            name=op.f("fk_referral_programs_referred_plan_id_plans"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_programs")),
    )
    with op.batch_alter_table("referral_programs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referral_programs_gym_id"), ["gym_id"], unique=False)
    op.create_table(
        "member_feature_grants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("feature", sa.String(length=40), nullable=False),
        sa.Column("starts_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_member_feature_grants_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_member_feature_grants_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_feature_grants")),
    )
    with op.batch_alter_table("member_feature_grants", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_feature_grants_member", ["gym_id", "member_id", "feature"], unique=False
        )
    op.create_table(
        "referral_codes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("normalized", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("expires_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_referral_codes_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_referral_codes_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["referral_programs.id"],
            name=op.f("fk_referral_codes_program_id_referral_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint(
            "gym_id", "normalized", name=op.f("uq_referral_codes_gym_id_normalized")
        ),
        sa.UniqueConstraint(
            "program_id", "member_id", name=op.f("uq_referral_codes_program_id_member_id")
        ),
    )
    with op.batch_alter_table("referral_codes", schema=None) as batch_op:
        batch_op.create_index("ix_referral_codes_member", ["gym_id", "member_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_referral_codes_program_id"), ["program_id"], unique=False
        )
    op.create_table(
        "referrals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("code_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "referrer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "referred_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("review_status", sa.String(length=10), nullable=False),
        sa.Column(
            "flags",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reject_reason", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("redeemed_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("converted_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "invoice_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("rewarded_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=60), nullable=True),
        sa.Column("updated_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["code_id"],
            ["referral_codes.id"],
            name=op.f("fk_referrals_code_id_referral_codes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["gym_id"], ["gyms.id"], name=op.f("fk_referrals_gym_id_gyms"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_referrals_invoice_id_invoices")
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["referral_programs.id"],
            name=op.f("fk_referrals_program_id_referral_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referred_id"],
            ["members.id"],
            name=op.f("fk_referrals_referred_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referrer_id"],
            ["members.id"],
            name=op.f("fk_referrals_referrer_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("gym_id", "referred_id", name=op.f("uq_referrals_gym_id_referred_id")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_referrals_code_id"), ["code_id"], unique=False)
        batch_op.create_index("ix_referrals_program_status", ["program_id", "status"], unique=False)
        batch_op.create_index(
            "ix_referrals_referrer", ["gym_id", "referrer_id", "status"], unique=False
        )
    op.create_table(
        "referral_rewards",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("gym_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "program_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "referral_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=40), nullable=True),
        sa.Column(
            "credit_entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "feature_grant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("granted_at", backend.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", backend.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["credit_entry_id"],
            ["credit_entries.id"],
            name=op.f("fk_referral_rewards_credit_entry_id_credit_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["feature_grant_id"],
            ["member_feature_grants.id"],
            name=op.f("fk_referral_rewards_feature_grant_id_member_feature_grants"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["gym_id"],
            ["gyms.id"],
            name=op.f("fk_referral_rewards_gym_id_gyms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_referral_rewards_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["referral_programs.id"],
            name=op.f("fk_referral_rewards_program_id_referral_programs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.id"],
            name=op.f("fk_referral_rewards_referral_id_referrals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral_rewards")),
        sa.UniqueConstraint(
            "referral_id", "side", name=op.f("uq_referral_rewards_referral_id_side")
        ),
    )
    with op.batch_alter_table("referral_rewards", schema=None) as batch_op:
        batch_op.create_index(
            "ix_referral_rewards_member", ["gym_id", "member_id", "granted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("referral_rewards", schema=None) as batch_op:
        batch_op.drop_index("ix_referral_rewards_member")
    op.drop_table("referral_rewards")
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index("ix_referrals_referrer")
        batch_op.drop_index("ix_referrals_program_status")
        batch_op.drop_index(batch_op.f("ix_referrals_code_id"))
    op.drop_table("referrals")
    with op.batch_alter_table("referral_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_codes_program_id"))
        batch_op.drop_index("ix_referral_codes_member")
    op.drop_table("referral_codes")
    with op.batch_alter_table("member_feature_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_member_feature_grants_member")
    op.drop_table("member_feature_grants")
    with op.batch_alter_table("referral_programs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_programs_gym_id"))
    op.drop_table("referral_programs")
