"""agencies.ods_code: the NHS Organisation Data Service code of a health or L&D service agency

Revision ID: 1500
Revises: 1510
Create Date: 2026-12-06

Documents name an NHS organisation by its ODS code (system https://fhir.nhs.uk/Id/ods-organization-code)
beside the gateway's local agency code. Agencies registered before this have none (NULL), and their
documents keep the local code alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "1500"
down_revision = "1510"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ods_code", sa.String(length=5), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agencies", schema=None) as batch_op:
        batch_op.drop_column("ods_code")
