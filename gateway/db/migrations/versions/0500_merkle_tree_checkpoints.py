"""disclosure log: RFC 9162 Merkle tree nodes, compact range on the head, signed checkpoints

Revision ID: 0500
Revises: 0400
Create Date: 2026-11-26

Existing entries are folded into the tree here, so a log written before this revision gets the same
tree (and so the same roots and proofs) as one written after it.
"""

from collections.abc import Iterable

from alembic import op
import sqlalchemy as sa

from gateway.audit.rfc9162 import compact_append

revision = '0500'
down_revision = '0400'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('log_tree_nodes',
    sa.Column('level', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('level', 'idx')
    )
    op.create_table('log_checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('tree_size')
    )
    with op.batch_alter_table('log_checkpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_log_checkpoints_created_at'), ['created_at'], unique=False)
    with op.batch_alter_table('log_head', schema=None) as batch_op:
        batch_op.add_column(sa.Column('compact_range', sa.Text(), nullable=True))

    conn = op.get_bind()
    compact: list[bytes] = []
    nodes = sa.table('log_tree_nodes', sa.column('level', sa.Integer), sa.column('idx', sa.BigInteger),
                     sa.column('hash', sa.String))
    batch: list[dict[str, object]] = []
    size = 0
    leaves: Iterable[str] = conn.execute(sa.text('SELECT leaf_hash FROM disclosure_log ORDER BY seq')).scalars()
    for leaf in leaves:
        compact, created = compact_append(compact, size, bytes.fromhex(leaf))
        batch.extend({'level': lv, 'idx': ix, 'hash': h.hex()} for lv, ix, h in created)
        size += 1
        if len(batch) >= 5000:
            op.bulk_insert(nodes, batch)
            batch = []
    if batch:
        op.bulk_insert(nodes, batch)
    if compact:
        conn.execute(sa.text('UPDATE log_head SET compact_range = :c WHERE id = 1'),
                     {'c': ','.join(h.hex() for h in compact)})


def downgrade() -> None:
    with op.batch_alter_table('log_head', schema=None) as batch_op:
        batch_op.drop_column('compact_range')
    with op.batch_alter_table('log_checkpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_log_checkpoints_created_at'))
    op.drop_table('log_checkpoints')
    op.drop_table('log_tree_nodes')
