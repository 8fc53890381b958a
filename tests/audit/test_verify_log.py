"""Tampering with entries, stored subtrees and checkpoints directly in the database: each detected and named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from gateway.audit import checkpoints, log
from gateway.audit.c2sp_note import Checkpoint, NoteSigner
from gateway.audit.rfc9162 import merkle_tree_hash
from gateway.audit.verify_log import verify_log
from tests.audit.test_log import _append

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def signer():
    return NoteSigner("gateway.test/disclosure-log", Ed25519PrivateKey.generate())


@pytest.fixture
def signed_log(session_factory, signer):
    """12 entries with checkpoints at 4, 8 and 12."""
    ids = []
    for start in (0, 4, 8):
        ids += _append(session_factory, 4, start=start)
        with session_factory.begin() as session:
            checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    return ids


def _verify(session_factory, signer, **kwargs):
    with session_factory() as session:
        return verify_log(session, signer.verifier, **kwargs)


def _sql(session_factory, statement, **params):
    with session_factory.begin() as session:
        session.execute(text(statement), params)


def test_intact_log_verifies_in_full_and_from_a_checkpoint(session_factory, signer, signed_log):
    result = _verify(session_factory, signer)
    assert result.ok, result.failure
    assert (result.entries, result.checkpoints) == (12, 3)
    progress = []
    partial = _verify(session_factory, signer, from_size=8, progress=progress.append)
    assert partial.ok, partial.failure
    assert partial.start == 8 and partial.root == result.root and progress[-1] == 12


def _failure(session_factory, signer, **kwargs):
    result = _verify(session_factory, signer, **kwargs)
    assert not result.ok
    return result.failure


def test_modified_entry_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE disclosure_log SET entry = replace(entry, 'charging', 'sentencing') WHERE seq = 5")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq, failure.disclosure_id) == ("entry", 5, signed_log[5])


def test_modified_entry_with_its_leaf_hash_recomputed_breaks_the_link(session_factory, signer, signed_log):
    with session_factory() as session:
        row = next(r for r in log.iter_rows(session) if r.seq == 5)
    forged = row.entry.replace("charging", "sentencing")
    from gateway.audit.rfc9162 import leaf_hash

    _sql(
        session_factory,
        "UPDATE disclosure_log SET entry = :e, leaf_hash = :h, purpose = 'sentencing' WHERE seq = 5",
        e=forged,
        h=leaf_hash(forged.encode()).hex(),
    )
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("entry", 6)


def test_deleted_entry_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "DELETE FROM disclosure_log WHERE seq = 3")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("entry", 3)
    assert "missing" in failure.problem


def test_inserted_entry_is_named(session_factory, signer, signed_log):
    # Make room at 6 by moving the later entries up one, then insert a copy of entry 5 there.
    _sql(session_factory, "UPDATE disclosure_log SET seq = seq + 100 WHERE seq >= 6")
    _sql(session_factory, "UPDATE disclosure_log SET seq = seq - 99 WHERE seq >= 106")
    _sql(
        session_factory,
        "INSERT INTO disclosure_log (seq, disclosure_id, event, created_at, client_id, agency_code, purpose, "
        "subject_key, outcome, entry, prev_hash, leaf_hash) SELECT 6, 'forged-0000-0000-0000-000000000000', event, "
        "created_at, client_id, agency_code, purpose, subject_key, outcome, entry, prev_hash, leaf_hash "
        "FROM disclosure_log WHERE seq = 5",
    )
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("entry", 6)


def test_reordered_entries_are_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE disclosure_log SET seq = 100 WHERE seq = 2")
    _sql(session_factory, "UPDATE disclosure_log SET seq = 2 WHERE seq = 3")
    _sql(session_factory, "UPDATE disclosure_log SET seq = 3 WHERE seq = 100")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("entry", 2)


def test_truncated_entries_are_caught_by_the_checkpoint(session_factory, signer, signed_log):
    # A careful forger removes the tail and rewrites the head to match; the signed checkpoint remains.
    with session_factory() as session:
        rows = list(log.iter_rows(session))
    kept = [bytes.fromhex(r.leaf_hash) for r in rows[:10]]
    _sql(session_factory, "DELETE FROM disclosure_log WHERE seq >= 10")
    _sql(session_factory, "UPDATE log_head SET size = 10, head_hash = :h", h=rows[9].leaf_hash)
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("checkpoint", 12)
    assert "entries removed" in failure.problem
    assert merkle_tree_hash(kept)  # (the forger cannot sign a checkpoint of 10 without the key)


def test_modified_stored_subtree_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE log_tree_nodes SET hash = :h WHERE level = 1 AND idx = 4", h="ab" * 32)
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("tree", 8)


def test_deleted_stored_subtree_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "DELETE FROM log_tree_nodes WHERE level = 2 AND idx = 1")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("tree", 4)
    assert "missing" in failure.problem


def test_modified_checkpoint_note_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE log_checkpoints SET note = replace(note, '\n8\n', '\n9\n') WHERE tree_size = 8")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("checkpoint", 8)


def test_modified_checkpoint_root_column_is_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE log_checkpoints SET root_hash = :h WHERE tree_size = 4", h="cd" * 32)
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("checkpoint", 4)


def test_inserted_checkpoint_signed_by_another_key_is_named(session_factory, signer, signed_log):
    forger = NoteSigner(signer.name, Ed25519PrivateKey.generate())
    note = forger.sign(Checkpoint(signer.name, 6, b"\x01" * 32).text())
    _sql(
        session_factory,
        "INSERT INTO log_checkpoints (tree_size, root_hash, created_at, note) VALUES (6, :r, :t, :n)",
        r="01" * 32,
        t=T0,
        n=note,
    )
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("checkpoint", 6)


def test_reordered_checkpoints_are_named(session_factory, signer, signed_log):
    _sql(session_factory, "UPDATE log_checkpoints SET tree_size = 100 WHERE tree_size = 4")
    _sql(session_factory, "UPDATE log_checkpoints SET tree_size = 4 WHERE tree_size = 8")
    _sql(session_factory, "UPDATE log_checkpoints SET tree_size = 8 WHERE tree_size = 100")
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq) == ("checkpoint", 4)


def test_truncated_checkpoints_are_caught_by_the_witness(session_factory, signer, signed_log):
    with session_factory() as session:
        witnessed = [c.note for c in checkpoints.iter_checkpoints(session)]
    _sql(session_factory, "DELETE FROM log_checkpoints WHERE tree_size = 12")
    assert _verify(session_factory, signer).ok  # the database alone cannot tell...
    failure = _failure(session_factory, signer, witnessed=witnessed)  # ...the witness can
    assert (failure.kind, failure.seq) == ("checkpoint", 12)


def test_from_checkpoint_must_be_a_signed_size(session_factory, signer, signed_log):
    failure = _failure(session_factory, signer, from_size=5)
    assert (failure.kind, failure.seq) == ("checkpoint", 5)


@pytest.mark.parametrize(
    "column, value",
    [
        ("disclosure_id", "00000000-0000-4000-8000-000000000000"),
        ("event", "disclosure:bundle:denied"),
        ("client_id", "someone-else"),
        ("agency_code", "POL-XX"),
        ("purpose", "sentencing"),
        ("subject_key", "ff" * 32),
        ("outcome", "denied"),
        ("created_at", datetime(2026, 11, 26, 12, 0, 1, tzinfo=UTC)),
    ],
)
def test_streaming_verifier_names_a_modified_column_as_check_row_does(
    session_factory, signer, signed_log, column, value
):
    """The tight loop's fast path only ever accepts; every row it does not accept is judged by check_row."""
    from gateway.audit.verify import check_row

    with session_factory.begin() as session:
        session.execute(text(f"UPDATE disclosure_log SET {column} = :v WHERE seq = 6"), {"v": value})
    with session_factory() as session:
        rows = list(log.iter_rows(session))
    expected = check_row(rows[6], 6, rows[5].leaf_hash)
    assert expected == f"column {column} differs from the hashed entry (row modified)"
    failure = _failure(session_factory, signer)
    assert (failure.kind, failure.seq, failure.problem) == ("entry", 6, expected)


def test_entry_only_json_loads_reads_is_judged_by_check_row(session_factory, signer):
    """An entry orjson refuses (a NaN, which json.loads accepts) leaves the fast path; the verdict is the same."""
    from gateway.audit.rfc9162 import leaf_hash

    _append(session_factory, 1)
    with session_factory() as session:
        row = next(iter(log.iter_rows(session)))
    # Still the same JSON object to json.loads, with an extra key orjson cannot parse: a NaN.
    forged = row.entry[:-1] + ',"zz":NaN}'
    _sql(
        session_factory,
        "UPDATE disclosure_log SET entry = :e, leaf_hash = :h",
        e=forged,
        h=leaf_hash(forged.encode()).hex(),
    )
    forged_leaf = leaf_hash(forged.encode()).hex()
    _sql(session_factory, "UPDATE log_head SET head_hash = :h, compact_range = :c", h=forged_leaf, c=forged_leaf)
    with session_factory() as session:
        result = verify_log(session, signer.verifier)
    assert result.ok, result.failure
