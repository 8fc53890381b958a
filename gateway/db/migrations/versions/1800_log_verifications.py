"""log verifications: every verification of the disclosure log, whoever ran it

Revision ID: 1800
Revises: 1300
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "1800"
down_revision = "1300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_verifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("run_by", sa.String(length=200), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("from_size", sa.BigInteger(), nullable=False),
        sa.Column("checkpoints", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=True),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("log_verifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_log_verifications_verified_at"), ["verified_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("log_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_log_verifications_verified_at"))
    op.drop_table("log_verifications")
