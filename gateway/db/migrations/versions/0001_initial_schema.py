"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('disclosure_log',
    sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('disclosure_id', sa.String(length=36), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('agency_code', sa.String(length=32), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=True),
    sa.Column('subject_key', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('entry', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('disclosure_id')
    )
    with op.batch_alter_table('disclosure_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_disclosure_log_agency_code'), ['agency_code'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_disclosure_log_subject_key'), ['subject_key'], unique=False)

    op.create_table('log_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    # The log's head row exists from the start; appends lock it (see gateway.audit.log).
    op.bulk_insert(
        sa.table('log_head', sa.column('id', sa.Integer), sa.column('size', sa.BigInteger),
                 sa.column('head_hash', sa.String)),
        [{'id': 1, 'size': 0, 'head_hash': '0' * 64}],
    )
    op.create_table('subjects',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
    sa.Column('master_key_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('assessments',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('publisher_agency_id', sa.Integer(), nullable=False),
    sa.Column('local_reference_hmac', sa.String(length=64), nullable=False),
    sa.Column('current_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['publisher_agency_id'], ['agencies.id'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('publisher_agency_id', 'local_reference_hmac', name='uq_assessment_local_ref')
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessments_subject_id'), ['subject_id'], unique=False)

    op.create_table('clients',
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('purposes', sa.JSON(), nullable=False),
    sa.Column('jwks', sa.JSON(), nullable=True),
    sa.Column('jwks_url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ),
    sa.PrimaryKeyConstraint('client_id')
    )
    op.create_table('subject_identifiers',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('system', sa.String(length=32), nullable=False),
    sa.Column('value_hmac', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('system', 'value_hmac', name='uq_subject_identifier')
    )
    with op.batch_alter_table('subject_identifiers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subject_identifiers_subject_id'), ['subject_id'], unique=False)

    op.create_table('assessment_versions',
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('content_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.PrimaryKeyConstraint('assessment_id', 'version')
    )
    op.create_table('case_links',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('assessment_id', sa.String(length=36), nullable=False),
    sa.Column('subject_id', sa.String(length=36), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('case_reference_hmac', sa.String(length=64), nullable=False),
    sa.Column('case_reference_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ),
    sa.ForeignKeyConstraint(['assessment_id'], ['assessments.id'], ),
    sa.ForeignKeyConstraint(['subject_id'], ['subjects.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('assessment_id', 'agency_id', 'case_reference_hmac', name='uq_case_link')
    )
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_links_agency_id'), ['agency_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_links_assessment_id'), ['assessment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_case_links_subject_id'), ['subject_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('case_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_links_subject_id'))
        batch_op.drop_index(batch_op.f('ix_case_links_assessment_id'))
        batch_op.drop_index(batch_op.f('ix_case_links_agency_id'))

    op.drop_table('case_links')
    op.drop_table('assessment_versions')
    with op.batch_alter_table('subject_identifiers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subject_identifiers_subject_id'))

    op.drop_table('subject_identifiers')
    op.drop_table('clients')
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessments_subject_id'))

    op.drop_table('assessments')
    op.drop_table('subjects')
    op.drop_table('log_head')
    with op.batch_alter_table('disclosure_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_disclosure_log_subject_key'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_created_at'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_client_id'))
        batch_op.drop_index(batch_op.f('ix_disclosure_log_agency_code'))

    op.drop_table('disclosure_log')
    op.drop_table('agencies')
