"""subject report sign-offs: the clinician's serious-harm check before a subject access report is released

Revision ID: 1510
Revises: 1301
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "1510"
down_revision = "1301"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subject_report_signoffs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("agency_code", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=True),
        sa.Column("clinician", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("disclosure_id", sa.String(length=36), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subject_report_signoffs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_report_signoffs_subject_key"), ["subject_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject_report_signoffs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_report_signoffs_subject_key"))
    op.drop_table("subject_report_signoffs")
