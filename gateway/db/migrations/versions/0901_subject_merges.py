"""subject merges (issue 9)

Revision ID: 0901
Revises: 0900
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op

revision = "0901"
down_revision = "0900"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_merges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("into_subject_id", sa.String(length=36), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerged_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"]),
        sa.ForeignKeyConstraint(["into_subject_id"], ["subjects.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subject_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_merges_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_merges_into_subject_id"), ["into_subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_merges_into_subject_id"))
        batch_op.drop_index(batch_op.f("ix_subject_merges_subject_id"))
    op.drop_table("subject_merges")
