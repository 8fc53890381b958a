"""stored policy revisions (issue 4)

Revision ID: 0401
Revises: 0301
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0401"
down_revision = "0301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_revisions",
        sa.Column("revision", sa.String(length=80), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("catalogue_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("activated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("revision"),
    )
    op.create_index("ix_policy_revisions_activated_at", "policy_revisions", ["activated_at"])


def downgrade() -> None:
    op.drop_index("ix_policy_revisions_activated_at", table_name="policy_revisions")
    op.drop_table("policy_revisions")
