"""family names and dates of birth on record (keyed hashes); PNC IDs keyed in their padded form

Revision ID: 1301
Revises: 1800
Create Date: 2026-12-06

An identifier joins a publish to a person only when family name and date of birth agree, so each
assessment's current version records keyed hashes of both (``subject_demographics``). PNC IDs are now
keyed with the serial zero-padded to 7 digits (``2025/318472V`` is ``2025/0318472V``). Both need the
plaintext, which only the encrypted assessments hold: this migration decrypts them with the keys in
``GATEWAY_DATA_DIR/keys`` (``ld-gateway init`` hands it that directory). A database without assessments
needs no keys.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import context, op

if TYPE_CHECKING:
    from gateway.keys import KeyRing

revision = "1301"
down_revision = "1800"
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
    op.create_table(
        "subject_demographics",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("assessment_id", sa.String(length=36), nullable=True),
        sa.Column("element", sa.String(length=16), nullable=False),
        sa.Column("value_hmac", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.String(length=200), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["subject_id"], ["subjects.id"]),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("subject_id", "assessment_id", "element", "value_hmac", name="uq_subject_demographic"),
    )
    with op.batch_alter_table("subject_demographics", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_demographics_subject_id"), ["subject_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subject_demographics_assessment_id"), ["assessment_id"], unique=False)
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    # assessment id, subject id, current version, version, ciphertext, wrapped key (both non-null here)
    rows: Sequence[sa.Row[str, str, int, int, bytes, bytes]] = conn.execute(
        sa.text(
            "SELECT a.id, a.subject_id, a.current_version, v.version, v.ciphertext, s.wrapped_key "
            "FROM assessments a JOIN assessment_versions v ON v.assessment_id = a.id "
            "JOIN subjects s ON s.id = a.subject_id "
            "WHERE v.ciphertext IS NOT NULL AND s.wrapped_key IS NOT NULL ORDER BY a.id, v.version"
        )
    ).all()
    if not rows:
        return
    from datetime import UTC, datetime

    from gateway.assessments.demographics import facts_of
    from gateway.assessments.identifiers import normalise_pnc_id
    from gateway.keys import decrypt, unwrap_key

    keyring = _keyring()
    now = datetime.now(UTC)
    pnc_ids: set[str] = set()
    for assessment_id, subject_id, current, version, ciphertext, wrapped in rows:
        data_key = unwrap_key(keyring.master_key, wrapped, subject_id)
        aad = f"assessment:{assessment_id}:{version}".encode()
        subject = json.loads(decrypt(data_key, ciphertext, aad)).get("subject", {})
        if isinstance(subject.get("pnc_id"), str):
            pnc_ids.add(subject["pnc_id"])
        if version != current:
            continue
        for element, value_hmac in facts_of(keyring, subject).hashes():
            conn.execute(
                sa.text(
                    "INSERT INTO subject_demographics (subject_id, assessment_id, element, value_hmac, recorded_at) "
                    "VALUES (:s, :a, :e, :h, :n)"
                ),
                {"s": subject_id, "a": assessment_id, "e": element, "h": value_hmac, "n": now},
            )
    # Re-key PNC IDs stored under an unpadded serial. Where the padded key is already someone's, the
    # unpadded row goes: the padded one is the key every lookup now uses (an administrator resolves any
    # two records of one person with `ld-gateway subject merge`).
    for value in sorted(pnc_ids):
        old = keyring.identifier_hmac("pnc-id", value.upper())
        new = keyring.identifier_hmac("pnc-id", normalise_pnc_id(value.upper()))
        if old == new:
            continue
        taken = conn.execute(
            sa.text("SELECT 1 FROM subject_identifiers WHERE system = 'pnc-id' AND value_hmac = :h"), {"h": new}
        ).first()
        if taken:
            conn.execute(
                sa.text("DELETE FROM subject_identifiers WHERE system = 'pnc-id' AND value_hmac = :h"), {"h": old}
            )
        else:
            conn.execute(
                sa.text("UPDATE subject_identifiers SET value_hmac = :new WHERE system = 'pnc-id' AND value_hmac = :old"),
                {"new": new, "old": old},
            )


def downgrade() -> None:
    # PNC keys stay padded: the padded form is a valid PNC ID and what the earlier code finds when asked for it.
    with op.batch_alter_table("subject_demographics", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_demographics_assessment_id"))
        batch_op.drop_index(batch_op.f("ix_subject_demographics_subject_id"))
    op.drop_table("subject_demographics")
