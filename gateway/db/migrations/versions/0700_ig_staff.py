"""IG staff accounts, sessions, verification runs and override reviews (issue 7)

Revision ID: 0700
Revises: 0901
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0700'
down_revision = '0901'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ig_staff',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('oidc_subject', sa.String(length=500), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('username'),
    sa.UniqueConstraint('oidc_subject')
    )
    op.create_table('ig_sessions',
    sa.Column('token_sha256', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.String(length=36), nullable=True),
    sa.Column('csrf_token', sa.String(length=64), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['ig_staff.id'], ),
    sa.PrimaryKeyConstraint('token_sha256')
    )
    with op.batch_alter_table('ig_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ig_sessions_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ig_sessions_staff_id'), ['staff_id'], unique=False)

    op.create_table('ig_verification_runs',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('started_by', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('total_entries', sa.BigInteger(), nullable=False),
    sa.Column('entries_checked', sa.BigInteger(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=True),
    sa.Column('failure', sa.Text(), nullable=True),
    sa.Column('checkpoints_checked', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['started_by'], ['ig_staff.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('ig_verification_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ig_verification_runs_started_at'), ['started_at'], unique=False)

    op.create_table('ig_override_reviews',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('override_id', sa.String(length=36), nullable=False),
    sa.Column('reviewer_id', sa.String(length=36), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('note_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['override_id'], ['lawful_overrides.id'], ),
    sa.ForeignKeyConstraint(['reviewer_id'], ['ig_staff.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('override_id')
    )
    with op.batch_alter_table('ig_override_reviews', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ig_override_reviews_reviewed_at'), ['reviewed_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ig_override_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ig_override_reviews_reviewed_at'))
    op.drop_table('ig_override_reviews')
    with op.batch_alter_table('ig_verification_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ig_verification_runs_started_at'))
    op.drop_table('ig_verification_runs')
    with op.batch_alter_table('ig_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ig_sessions_staff_id'))
        batch_op.drop_index(batch_op.f('ix_ig_sessions_expires_at'))
    op.drop_table('ig_sessions')
    op.drop_table('ig_staff')
