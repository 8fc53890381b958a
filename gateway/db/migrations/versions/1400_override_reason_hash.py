"""lawful overrides keep the SHA-256 of their reason, for the disclosure log

Revision ID: 1400
Revises: 1500
Create Date: 2026-12-06

Every disclosure that relies on an override carries, inside its hashed log entry, the override's author,
expiry and the SHA-256 of its reason (the reason itself stays encrypted under the subject's key). The
hash is kept beside the override so the hot path never decrypts a reason. Overrides recorded earlier
get theirs here, from the decrypted reason (with the keys in ``GATEWAY_DATA_DIR/keys``); an override
whose person was erased keeps none.
"""

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import context, op

if TYPE_CHECKING:
    from gateway.keys import KeyRing

revision = "1400"
down_revision = "1500"
branch_labels = None
depends_on = None


def _keyring() -> "KeyRing":
    from gateway.keys import load_keyring

    keys_dir = context.config.attributes.get("keys_dir")
    if keys_dir is None:
        from gateway.config import get_settings

        keys_dir = get_settings().keys_dir
    return load_keyring(Path(keys_dir))


def upgrade() -> None:
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_sha256", sa.String(length=64), nullable=True))
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    rows: Sequence[sa.Row[str, bytes, str, bytes]] = conn.execute(
        sa.text(
            "SELECT o.id, o.reason_ciphertext, s.id, s.wrapped_key FROM lawful_overrides o "
            "JOIN assessments a ON a.id = o.assessment_id JOIN subjects s ON s.id = a.subject_id "
            "WHERE o.reason_ciphertext IS NOT NULL AND s.wrapped_key IS NOT NULL ORDER BY o.id"
        )
    ).all()
    if not rows:
        return
    from gateway.keys import decrypt, unwrap_key

    keyring = _keyring()
    for override_id, ciphertext, subject_id, wrapped in rows:
        data_key = unwrap_key(keyring.master_key, wrapped, subject_id)
        reason = decrypt(data_key, ciphertext, f"override:{override_id}".encode())
        conn.execute(
            sa.text("UPDATE lawful_overrides SET reason_sha256 = :h WHERE id = :id"),
            {"h": hashlib.sha256(reason).hexdigest(), "id": override_id},
        )


def downgrade() -> None:
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.drop_column("reason_sha256")
