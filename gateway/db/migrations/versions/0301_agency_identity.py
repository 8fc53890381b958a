"""agency identity: replay store, revoked tokens, per-client algorithms and DPoP

Revision ID: 0301
Revises: 0500
Create Date: 2026-11-26
"""

from alembic import op
import sqlalchemy as sa


revision = '0301'
down_revision = '0500'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('seen_jtis',
    sa.Column('jti_hash', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('jti_hash')
    )
    with op.batch_alter_table('seen_jtis', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_jtis_expires_at'), ['expires_at'], unique=False)

    op.create_table('revoked_tokens',
    sa.Column('jti', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.BigInteger(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('jti')
    )
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revoked_tokens_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_revoked_tokens_expires_at'), ['expires_at'], unique=False)

    # Clients registered before DPoP existed keep working with bearer tokens (server default
    # false); new registrations set the column explicitly (true unless the operator says otherwise).
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assertion_algorithms', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('dpop_required', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_column('dpop_required')
        batch_op.drop_column('assertion_algorithms')
    with op.batch_alter_table('revoked_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_expires_at'))
        batch_op.drop_index(batch_op.f('ix_revoked_tokens_client_id'))
    op.drop_table('revoked_tokens')
    with op.batch_alter_table('seen_jtis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seen_jtis_expires_at'))
    op.drop_table('seen_jtis')
