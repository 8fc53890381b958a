"""lawful overrides keep keyed commitments to their author and reason, not an unkeyed reason hash

Revision ID: 1401
Revises: 1400
Create Date: 2026-12-06

The disclosure log holds, for each override relied on, HMAC-SHA256 of the author and of the reason
keyed by the subject's data key (gateway/overrides/commitment.py): the plain SHA-256 of a short reason
could be confirmed by guessing, and outlived the person's erasure. Both commitments are kept beside the
override, computed here for overrides recorded earlier (with the keys in ``GATEWAY_DATA_DIR/keys``); an
override whose person was erased gets none. The unkeyed ``reason_sha256`` column goes.
"""

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import context, op

if TYPE_CHECKING:
    from gateway.keys import KeyRing

revision = "1401"
down_revision = "1400"
branch_labels = None
depends_on = None


def _keyring() -> "KeyRing":
    from gateway.keys import load_keyring

    keys_dir = context.config.attributes.get("keys_dir")
    if keys_dir is None:
        from gateway.config import get_settings

        keys_dir = get_settings().keys_dir
    return load_keyring(Path(keys_dir))


def _decrypted(conn: sa.Connection) -> Iterator[tuple[str, bytes, str, str]]:
    """(override id, data key, recorded_by, reason) for every override whose person is not erased."""
    rows: Sequence[sa.Row[str, bytes, str, str, bytes]] = conn.execute(
        sa.text(
            "SELECT o.id, o.reason_ciphertext, o.recorded_by, s.id, s.wrapped_key FROM lawful_overrides o "
            "JOIN assessments a ON a.id = o.assessment_id JOIN subjects s ON s.id = a.subject_id "
            "WHERE o.reason_ciphertext IS NOT NULL AND s.wrapped_key IS NOT NULL ORDER BY o.id"
        )
    ).all()
    if not rows:
        return
    from gateway.keys import decrypt, unwrap_key

    keyring = _keyring()
    for override_id, ciphertext, recorded_by, subject_id, wrapped in rows:
        data_key = unwrap_key(keyring.master_key, wrapped, subject_id)
        reason = decrypt(data_key, ciphertext, f"override:{override_id}".encode()).decode("utf-8")
        yield override_id, data_key, recorded_by, reason


def _commit(data_key: bytes, override_id: str, field: str, value: str) -> str:
    # As gateway.overrides.commitment.commit at this revision (a migration never imports code that may change).
    message = f"override:{override_id}:{field}|".encode() + value.encode("utf-8")
    return hmac.new(data_key, message, hashlib.sha256).hexdigest()


def upgrade() -> None:
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by_hmac", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reason_hmac", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for override_id, data_key, recorded_by, reason in list(_decrypted(conn)):
        conn.execute(
            sa.text("UPDATE lawful_overrides SET recorded_by_hmac = :a, reason_hmac = :r WHERE id = :id"),
            {
                "a": _commit(data_key, override_id, "recorded_by_hmac", recorded_by),
                "r": _commit(data_key, override_id, "reason_hmac", reason),
                "id": override_id,
            },
        )
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.drop_column("reason_sha256")


def downgrade() -> None:
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason_sha256", sa.String(length=64), nullable=True))
    conn = op.get_bind()
    for override_id, _, _, reason in list(_decrypted(conn)):
        conn.execute(
            sa.text("UPDATE lawful_overrides SET reason_sha256 = :h WHERE id = :id"),
            {"h": hashlib.sha256(reason.encode("utf-8")).hexdigest(), "id": override_id},
        )
    with op.batch_alter_table("lawful_overrides", schema=None) as batch_op:
        batch_op.drop_column("recorded_by_hmac")
        batch_op.drop_column("reason_hmac")
