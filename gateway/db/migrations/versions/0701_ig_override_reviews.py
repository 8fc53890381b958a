"""IG reviews of lawful overrides; checkpoints counted by verification runs (issue 7)

Revision ID: 0701
Revises: 0700
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0701'
down_revision = '0700'
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    with op.batch_alter_table('ig_verification_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkpoints_checked', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ig_verification_runs', schema=None) as batch_op:
        batch_op.drop_column('checkpoints_checked')
    with op.batch_alter_table('ig_override_reviews', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ig_override_reviews_reviewed_at'))
    op.drop_table('ig_override_reviews')
