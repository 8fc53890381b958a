"""case links carry the L&D service that declared them

Revision ID: 1300
Revises: 0700
Create Date: 2026-12-06

A case link opens only its declarer's assessments of a person (DOMAIN.md "Provenance"). Every link was
recorded on one assessment (by its publisher at publication, or on its owner's assessment when that L&D
service accepted a request), so the declarer of each existing link is that assessment's publisher.
"""

import sqlalchemy as sa
from alembic import op

revision = "1300"
down_revision = "0700"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declared_by_agency_id", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE case_links SET declared_by_agency_id = "
        "(SELECT assessments.publisher_agency_id FROM assessments WHERE assessments.id = case_links.assessment_id)"
    )
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.alter_column("declared_by_agency_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_foreign_key(
            "fk_case_links_declared_by_agency_id", "agencies", ["declared_by_agency_id"], ["id"]
        )
        batch_op.create_index(
            "ix_case_links_relationship", ["agency_id", "subject_id", "declared_by_agency_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("case_links", schema=None) as batch_op:
        batch_op.drop_index("ix_case_links_relationship")
        batch_op.drop_constraint("fk_case_links_declared_by_agency_id", type_="foreignkey")
        batch_op.drop_column("declared_by_agency_id")
