"""request tasks (issue 6)

Revision ID: 0600
Revises: 0401
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = "0600"
down_revision = "0401"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("requester_agency_id", sa.Integer(), nullable=False),
        sa.Column("owner_agency_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(length=8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("output_assessment_id", sa.String(length=36), nullable=True),
        sa.Column("case_reference_hmac", sa.String(length=64), nullable=False),
        sa.Column("resource_ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"]),
        sa.ForeignKeyConstraint(["requester_agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["owner_agency_id"], ["agencies.id"]),
        sa.ForeignKeyConstraint(["output_assessment_id"], ["assessments.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_request_tasks_status", "request_tasks", ["status"])
    op.create_index("ix_request_tasks_subject_id", "request_tasks", ["subject_id"])
    op.create_index("ix_request_tasks_requester_agency_id", "request_tasks", ["requester_agency_id"])
    op.create_index("ix_request_tasks_owner_agency_id", "request_tasks", ["owner_agency_id"])


def downgrade() -> None:
    op.drop_table("request_tasks")
