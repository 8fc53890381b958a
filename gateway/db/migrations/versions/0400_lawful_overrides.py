"""lawful overrides (issue 4)

Revision ID: 0400
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0400"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lawful_overrides",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("basis", sa.String(length=48), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("reason_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("agency_code", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lawful_overrides_assessment_id", "lawful_overrides", ["assessment_id"])
    op.create_index("ix_lawful_overrides_recorded_at", "lawful_overrides", ["recorded_at"])


def downgrade() -> None:
    op.drop_index("ix_lawful_overrides_recorded_at", table_name="lawful_overrides")
    op.drop_index("ix_lawful_overrides_assessment_id", table_name="lawful_overrides")
    op.drop_table("lawful_overrides")
