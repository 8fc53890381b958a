"""The streaming verifier over many batches, on entries its fast path accepts (instants with microseconds,
as the gateway writes them): every tampering is named as the row-by-row check (``verify_rows``, which
is ``check_row`` on each row) names it, and the stored tree is checked batch by batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from gateway.audit import checkpoints, log, verify_log
from gateway.audit.c2sp_note import Checkpoint, NoteSigner
from gateway.audit.entry import GENESIS_HASH, NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.rfc9162 import leaf_hash, merkle_tree_hash
from gateway.audit.verify import verify_rows

ENTRIES = 23  # over five batches of 4 and a part, so no batch boundary is a power of two


@pytest.fixture
def signer():
    return NoteSigner("gateway.test/disclosure-log", Ed25519PrivateKey.generate())


@pytest.fixture(autouse=True)
def small_batches(monkeypatch):
    monkeypatch.setattr(verify_log, "BATCH", 4)


@pytest.fixture
def fast_log(session_factory, signer):
    """ENTRIES entries written as the gateway writes them (microsecond instants), checkpoints at 10 and 23."""
    for i in range(ENTRIES):
        with session_factory.begin() as session:
            log.append(
                session,
                NewEntry(
                    event=AuditEvent.BUNDLE_RELEASED,
                    outcome=Outcome.RELEASED,
                    created_at=datetime(2026, 11, 26, 12, 0, i, 1000 + i, tzinfo=UTC),
                    # Not only ASCII: the entry holds it as UTF-8, as the column does.
                    client_id=f"client-é{i % 3}",
                    agency_code="POL-NE",
                    agency_type="police",
                    purpose="charging",
                    subject_key=f"{i:02x}" * 32,
                    body_sha256="cd" * 32,
                ),
            )
            if i in (9, ENTRIES - 1):
                checkpoints.checkpoint_if_due(session, signer, force=True)


def _sql(session_factory, statement, **params):
    with session_factory.begin() as session:
        session.execute(text(statement), params)


def _both(session_factory, signer):
    """(verify_log's result, the row-by-row verdict on the same rows)."""
    with session_factory() as session:
        streamed = verify_log.verify_log(session, signer.verifier)
        rows = list(log.iter_rows(session))
        head = log.read_head(session)
    return streamed, verify_rows(rows, head)


def test_intact_log_over_many_batches_gives_the_tree_root(session_factory, signer, fast_log):
    streamed, by_row = _both(session_factory, signer)
    assert streamed.ok, streamed.failure
    assert by_row.ok, by_row.failure
    with session_factory() as session:
        leaves = [leaf_hash(r.entry.encode()) for r in log.iter_rows(session)]
    assert (streamed.entries, streamed.checkpoints) == (ENTRIES, 2)
    assert streamed.root == merkle_tree_hash(leaves).hex() and streamed.head_hash == by_row.head_hash
    with session_factory() as session:
        partial = verify_log.verify_log(session, signer.verifier, from_size=10)
    assert partial.ok and partial.root == streamed.root, partial.failure


def _slow_checks_refused(monkeypatch) -> None:
    """check_row and the per-subtree lookup fail the test if called: the fast comparisons must decide."""

    def refuse(*args, **kwargs):
        raise AssertionError("the fast path did not accept an intact log")

    monkeypatch.setattr(verify_log, "check_row", refuse)
    monkeypatch.setattr(verify_log.log_scan, "tree_nodes_in", refuse)


def test_an_intact_log_is_accepted_without_the_row_by_row_check_or_the_subtree_lookup(
    session_factory, signer, fast_log, monkeypatch
):
    """On what the gateway writes, the fast comparisons decide: check_row and the per-subtree lookup are
    only ever there to name a difference (and a fast path that silently stopped matching would make
    every verification take the slow road)."""

    _slow_checks_refused(monkeypatch)
    with session_factory() as session:
        full = verify_log.verify_log(session, signer.verifier)
        partial = verify_log.verify_log(session, signer.verifier, from_size=10)
    assert full.ok and partial.ok, (full.failure, partial.failure)


def test_a_longer_log_written_in_batches_is_accepted_by_the_fast_comparisons(session_factory, signer, monkeypatch):
    """Hundreds of subtrees a level per batch, written as the log writer writes them (many entries per
    transaction): the database must hand each level's subtrees back in index order."""
    monkeypatch.setattr(verify_log, "BATCH", 512)
    for start in range(0, 1500, 500):
        with session_factory.begin() as session, log.batch(session):
            for i in range(start, start + 500):
                log.append(
                    session,
                    NewEntry(
                        event=AuditEvent.BUNDLE_RELEASED,
                        outcome=Outcome.RELEASED,
                        created_at=datetime(2026, 11, 26, 12, 0, i % 60, 1000 + i, tzinfo=UTC),
                        client_id=f"client-{i % 7}",
                        agency_code="POL-NE",
                        purpose="charging",
                    ),
                )

    _slow_checks_refused(monkeypatch)
    with session_factory() as session:
        result = verify_log.verify_log(session, signer.verifier)
    assert result.ok and result.entries == 1500, result.failure


def test_an_instant_written_with_another_offset_is_judged_by_check_row(session_factory, signer, fast_log):
    """The fast path compares UTC renderings only; an entry whose instant carries another offset (not what
    the gateway writes, but a valid entry) is left to check_row, which compares instants."""
    later = datetime(2026, 11, 26, 13, 30, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    with session_factory.begin() as session:
        log.append(session, NewEntry(event=AuditEvent.BUNDLE_RELEASED, outcome=Outcome.RELEASED, created_at=later))
    streamed, by_row = _both(session_factory, signer)
    assert streamed.ok and by_row.ok, (streamed.failure, by_row.failure)
    assert streamed.entries == ENTRIES + 1


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE disclosure_log SET agency_code = 'POL-XX' WHERE seq = 17",
        "UPDATE disclosure_log SET client_id = NULL WHERE seq = 17",
        "UPDATE disclosure_log SET subject_key = 'x\"y' WHERE seq = 17",
        "UPDATE disclosure_log SET created_at = :later WHERE seq = 17",
        "UPDATE disclosure_log SET prev_hash = leaf_hash WHERE seq = 17",
        "UPDATE disclosure_log SET leaf_hash = prev_hash WHERE seq = 17",
        "UPDATE disclosure_log SET entry = replace(entry, 'charging', 'sentencing') WHERE seq = 17",
        "DELETE FROM disclosure_log WHERE seq = 17",
        "UPDATE disclosure_log SET seq = seq + 100 WHERE seq = 22",
    ],
)
def test_a_tampered_row_in_a_later_batch_is_named_as_check_row_names_it(session_factory, signer, fast_log, statement):
    _sql(session_factory, statement, later=datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    streamed, by_row = _both(session_factory, signer)
    assert not streamed.ok and not by_row.ok
    assert streamed.failure == by_row.failure
    assert (streamed.entries, streamed.head_hash) == (by_row.entries, by_row.head_hash)


def test_an_entry_whose_leaf_hash_was_recomputed_is_named_where_check_row_names_it(session_factory, signer, fast_log):
    with session_factory() as session:
        entry = next(r.entry for r in log.iter_rows(session) if r.seq == 14)
    forged = entry.replace('"charging"', '"sentencing"')
    _sql(
        session_factory,
        "UPDATE disclosure_log SET entry = :e, leaf_hash = :h WHERE seq = 14",
        e=forged,
        h=leaf_hash(forged.encode()).hex(),
    )
    streamed, by_row = _both(session_factory, signer)
    assert streamed.failure == by_row.failure
    problem = "column purpose differs from the hashed entry (row modified)"
    assert (streamed.failure.seq, streamed.failure.problem) == (14, problem)


def _odd_chunks(monkeypatch) -> None:
    """Chunks of 3 rows, subtrees compared every 8 entries: neither boundary is the other's, nor a power
    of two, and the checkpoint at 10 falls inside the chunk 9..11 (which is cut there)."""
    monkeypatch.setattr(verify_log, "CHUNK", 3)
    monkeypatch.setattr(verify_log, "BATCH", 8)


@pytest.fixture
def odd_chunks(monkeypatch):
    _odd_chunks(monkeypatch)


@pytest.mark.parametrize(
    "chunks, level, index",
    [
        ("default", 1, 7),
        ("default", 2, 3),
        ("default", 3, 1),
        ("default", 4, 0),
        # Subtrees completed across two chunks of 3 (1, 4 covers 8..9; 2, 2 covers 8..11, cut by the
        # checkpoint of 10), compared every 8 entries.
        ("odd", 1, 4),
        ("odd", 1, 5),
        ("odd", 2, 2),
        ("odd", 3, 1),
    ],
)
def test_a_modified_stored_subtree_in_any_batch_is_named(
    session_factory, signer, fast_log, monkeypatch, chunks, level, index
):
    if chunks == "odd":
        _odd_chunks(monkeypatch)
    _sql(
        session_factory,
        "UPDATE log_tree_nodes SET hash = :h WHERE level = :lv AND idx = :ix",
        h="00" * 32,
        lv=level,
        ix=index,
    )
    with session_factory() as session:
        failure = verify_log.verify_log(session, signer.verifier).failure
    first, last = index << level, ((index + 1) << level) - 1
    assert failure is not None
    assert (failure.kind, failure.seq) == ("tree", first)
    assert failure.problem == f"stored subtree over entries {first}..{last} differs from the entries under it"


def test_a_deleted_stored_subtree_in_a_later_batch_is_named(session_factory, signer, fast_log):
    _sql(session_factory, "DELETE FROM log_tree_nodes WHERE level = 1 AND idx = 9")
    with session_factory() as session:
        failure = verify_log.verify_log(session, signer.verifier).failure
    assert failure is not None
    assert (failure.kind, failure.seq, failure.problem) == ("tree", 18, "stored subtree over entries 18..19 missing")


def test_an_entry_that_is_not_utf8_is_named(session_factory, signer, fast_log, db_engine):
    if db_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL stores only valid text")
    # SQLite keeps whatever bytes it is given as TEXT; the driver cannot decode them as a str.
    _sql(session_factory, "UPDATE disclosure_log SET entry = CAST(X'7B22FF227D' AS TEXT) WHERE seq = 6")
    with session_factory() as session:
        failure = verify_log.verify_log(session, signer.verifier).failure
    assert failure is not None
    assert (failure.kind, failure.seq, failure.problem) == ("entry", 6, "entry is not UTF-8 text")


def test_an_intact_log_in_chunks_cut_by_checkpoints_is_accepted_by_the_fast_comparisons(
    session_factory, signer, fast_log, odd_chunks, monkeypatch
):
    _slow_checks_refused(monkeypatch)
    with session_factory() as session:
        full = verify_log.verify_log(session, signer.verifier)
        partial = verify_log.verify_log(session, signer.verifier, from_size=10)
    assert full.ok and partial.ok, (full.failure, partial.failure)
    assert (full.entries, full.checkpoints, partial.root) == (ENTRIES, 2, full.root)


# 9 and 11 end and start a chunk; 10 is where the checkpoint cuts the chunk 9..11; 13 is in the
# middle of a chunk (12..14); 15 starts one; 22 is the last entry, alone in its chunk (21..22 cut
# nowhere else), and 0 the first.
@pytest.mark.parametrize("seq", [0, 9, 10, 11, 13, 15, 22])
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE disclosure_log SET purpose = 'sentencing' WHERE seq = :seq",
        "UPDATE disclosure_log SET created_at = :later WHERE seq = :seq",
        "UPDATE disclosure_log SET prev_hash = leaf_hash WHERE seq = :seq",
        "UPDATE disclosure_log SET leaf_hash = prev_hash WHERE seq = :seq",
        "UPDATE disclosure_log SET entry = replace(entry, 'charging', 'sentencing') WHERE seq = :seq",
        "DELETE FROM disclosure_log WHERE seq = :seq",
    ],
)
def test_a_tampered_row_anywhere_in_a_chunk_is_named_exactly(
    session_factory, signer, fast_log, odd_chunks, statement, seq
):
    """Whole-chunk comparisons only accept or hand the chunk to check_row: the failure is check_row's,
    for the first bad entry, wherever it lies in its chunk."""
    _sql(session_factory, statement, seq=seq, later=datetime(2026, 11, 26, 13, 0, tzinfo=UTC))
    streamed, by_row = _both(session_factory, signer)
    assert not by_row.ok
    if seq == ENTRIES - 1 and statement.startswith("DELETE"):
        # The last entry gone: every entry left verifies; the signed checkpoint of 23 says one is missing.
        assert (streamed.failure.kind, streamed.failure.seq) == ("checkpoint", ENTRIES)
        return
    assert streamed.failure == by_row.failure
    assert (streamed.failure.kind, streamed.failure.seq) == ("entry", seq)
    assert (streamed.entries, streamed.head_hash) == (by_row.entries, by_row.head_hash)


def test_two_tampered_rows_in_one_chunk_name_the_first(session_factory, signer, fast_log, odd_chunks):
    _sql(session_factory, "UPDATE disclosure_log SET outcome = 'denied' WHERE seq = 14")
    _sql(session_factory, "UPDATE disclosure_log SET agency_code = 'POL-XX' WHERE seq = 13")
    streamed, by_row = _both(session_factory, signer)
    assert streamed.failure == by_row.failure
    assert (streamed.failure.seq, streamed.failure.problem) == (
        13,
        "column agency_code differs from the hashed entry (row modified)",
    )


def test_a_wrong_checkpoint_root_inside_a_chunk_is_named(session_factory, signer, fast_log, odd_chunks):
    """The checkpoint of 10 cuts the chunk 9..11: its root is compared at exactly 10 entries."""
    with session_factory() as session:
        leaf_10 = next(r.leaf_hash for r in log.iter_rows(session) if r.seq == 9)
    forged = signer.sign(Checkpoint(signer.name, 10, bytes.fromhex(leaf_10)).text())
    _sql(
        session_factory,
        "UPDATE log_checkpoints SET note = :n, root_hash = :r WHERE tree_size = 10",
        n=forged,
        r=leaf_10,
    )
    streamed, by_row = _both(session_factory, signer)
    failure = streamed.failure
    assert failure is not None
    assert (failure.kind, failure.seq, failure.problem) == (
        "checkpoint",
        10,
        "signed root is not the root of the entries",
    )
    # Reported with it: the 10 entries the signed root was compared with, all verified, and their true
    # root. verify_rows reads no checkpoint (it accepts the whole log); on those 10 entries it agrees.
    assert by_row.ok and by_row.entries == ENTRIES
    with session_factory() as session:
        rows = list(log.iter_rows(session))[:10]
    first_ten = verify_rows(rows, (10, leaf_10))
    assert first_ten.ok and (streamed.entries, streamed.head_hash) == (first_ten.entries, first_ten.head_hash)
    assert (streamed.entries, streamed.head_hash) == (10, leaf_10)
    assert streamed.root == merkle_tree_hash([bytes.fromhex(r.leaf_hash) for r in rows]).hex() != leaf_10


# 0: nothing verified (the empty log's head hash and root); 10: the checkpoint of 10 ended the chunk
# before; 13 is in the middle of the chunk 12..14; 22 is the last entry.
@pytest.mark.parametrize("seq", [0, 10, 13, 22])
def test_a_failed_verification_reports_what_was_verified_before_the_bad_entry(
    session_factory, signer, fast_log, odd_chunks, seq
):
    """``audit verify --json`` and the IG integrity page report ``entries``, ``head_hash`` and ``root``
    with a failure: the entries verified before the first bad one, as verify_rows reports them, not the
    start of the chunk the bad entry happens to fall in (13 is in the middle of the chunk 12..14)."""
    _sql(session_factory, "UPDATE disclosure_log SET purpose = 'sentencing' WHERE seq = :seq", seq=seq)
    streamed, by_row = _both(session_factory, signer)
    assert streamed.failure == by_row.failure and streamed.failure.seq == seq
    with session_factory() as session:
        leaves = [leaf_hash(r.entry.encode()) for r in log.iter_rows(session)][:seq]
    head_hash = leaves[-1].hex() if leaves else GENESIS_HASH
    assert (streamed.entries, streamed.head_hash) == (by_row.entries, by_row.head_hash) == (seq, head_hash)
    assert streamed.root == merkle_tree_hash(leaves).hex()
