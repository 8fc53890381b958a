"""The stored Merkle tree and signed checkpoints, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select, text

from gateway.audit import checkpoints, log, tree
from gateway.audit.c2sp_note import NoteSigner, open_checkpoint
from gateway.audit.checkpoints import CheckpointRefused
from gateway.audit.rfc9162 import merkle_tree_hash, verify_consistency, verify_inclusion
from gateway.audit.witness import DirectoryWitness, export_latest
from gateway.db.models import LogCheckpoint
from tests.audit.test_log import _append

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture
def signer():
    return NoteSigner("gateway.test/disclosure-log", Ed25519PrivateKey.generate())


def _leaves(session_factory) -> list[bytes]:
    with session_factory() as session:
        return [bytes.fromhex(r.leaf_hash) for r in log.iter_rows(session)]


def test_stored_tree_gives_the_rfc_root_and_proofs_for_every_size(session_factory):
    _append(session_factory, 21)
    leaves = _leaves(session_factory)
    with session_factory() as session:
        for size in range(0, 22):
            root = tree.root_at(session, size)
            assert root == merkle_tree_hash(leaves[:size])
            for index in range(size):
                verify_inclusion(index, size, leaves[index], tree.inclusion_proof(session, index, size), root)
            for first in range(size + 1):
                proof = tree.consistency_proof(session, first, size)
                verify_consistency(first, size, merkle_tree_hash(leaves[:first]), root, proof)
        with pytest.raises(tree.TreeIncomplete):
            tree.root_at(session, 22)


def test_checkpoints_are_signed_when_due_and_only_then(session_factory, signer):
    _append(session_factory, 3)
    with session_factory.begin() as session:
        first = checkpoints.checkpoint_if_due(session, signer, T0)
        assert first is not None and first.tree_size == 3
    with session_factory.begin() as session:
        assert checkpoints.checkpoint_if_due(session, signer, T0 + timedelta(seconds=30)) is None  # no growth
    _append(session_factory, 2, start=3)
    with session_factory.begin() as session:
        assert checkpoints.checkpoint_if_due(session, signer, T0 + timedelta(seconds=5)) is None  # not yet due
        late = checkpoints.checkpoint_if_due(session, signer, T0 + timedelta(seconds=10))
        assert late is not None and late.tree_size == 5
    leaves = _leaves(session_factory)
    with session_factory() as session:
        notes = [c.note for c in checkpoints.iter_checkpoints(session)]
        parsed = [open_checkpoint(n, signer.verifier) for n in notes]
        assert [p.size for p in parsed] == [3, 5]
        assert parsed[1].root == merkle_tree_hash(leaves)
        verify_consistency(3, 5, parsed[0].root, parsed[1].root, tree.consistency_proof(session, 3, 5))


def test_a_thousand_waiting_entries_make_a_checkpoint_due():
    last = LogCheckpoint(tree_size=10, root_hash="00" * 32, created_at=T0, note="")
    assert checkpoints.due(1009, last, T0) is None
    assert checkpoints.due(1010, last, T0) is not None
    assert checkpoints.due(11, last, T0 + timedelta(seconds=10)) is not None
    assert checkpoints.due(10, last, T0 + timedelta(hours=1)) is None


def test_refuses_to_sign_a_tree_inconsistent_with_an_earlier_checkpoint(session_factory, signer):
    _append(session_factory, 6)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    _append(session_factory, 3, start=6)
    # Rewrite history as a forger must: entry 2's leaf and every stored subtree above it, so the
    # stored tree is self-consistent again, but no longer the tree that was signed at 6.
    leaves = _leaves(session_factory)
    leaves[2] = bytes.fromhex("ee" * 32)
    with session_factory.begin() as session:
        session.execute(text("UPDATE disclosure_log SET leaf_hash = :h WHERE seq = 2"), {"h": leaves[2].hex()})
        for level, index in [(1, 1), (2, 0), (3, 0)]:
            h = merkle_tree_hash(leaves[index << level : (index + 1) << level])
            session.execute(
                text("UPDATE log_tree_nodes SET hash = :h WHERE level = :l AND idx = :i"),
                {"h": h.hex(), "l": level, "i": index},
            )
    with session_factory.begin() as session, pytest.raises(CheckpointRefused):
        checkpoints.checkpoint_if_due(session, signer, T0 + timedelta(minutes=1), force=True)
    with session_factory() as session:
        assert [c.tree_size for c in checkpoints.iter_checkpoints(session)] == [6]


def test_refuses_when_the_stored_subtrees_disagree_with_the_head(session_factory, signer):
    _append(session_factory, 4)
    with session_factory.begin() as session:
        session.execute(text("UPDATE log_tree_nodes SET hash = :h WHERE level = 2 AND idx = 0"), {"h": "aa" * 32})
    with session_factory.begin() as session, pytest.raises(CheckpointRefused):
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)


def test_refuses_when_a_signed_checkpoint_was_altered(session_factory, signer):
    _append(session_factory, 2)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    _append(session_factory, 1, start=2)
    with session_factory.begin() as session:
        session.execute(text("UPDATE log_checkpoints SET root_hash = :h"), {"h": "bb" * 32})
    with session_factory.begin() as session, pytest.raises(CheckpointRefused):
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)


def test_directory_witness_keeps_every_checkpoint_and_the_newest(session_factory, signer, tmp_path):
    witness = DirectoryWitness(tmp_path / "witness")
    _append(session_factory, 2)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    with session_factory() as session:
        assert export_latest(session, witness) == 2
    _append(session_factory, 3, start=2)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    with session_factory() as session:
        assert export_latest(session, witness) == 5
        newest = session.execute(select(LogCheckpoint).where(LogCheckpoint.tree_size == 5)).scalar_one()
    files = sorted(p.name for p in (tmp_path / "witness").iterdir())
    assert files == ["checkpoint", "checkpoint.2", "checkpoint.5"]
    assert (tmp_path / "witness" / "checkpoint").read_text() == newest.note
    cp = open_checkpoint(newest.note, signer.verifier)
    assert base64.b64encode(cp.root).decode() in newest.note


class FakeTlogWitness:
    """A C2SP tlog-witness ``add-checkpoint`` endpoint, faithful to the protocol: it checks the
    signature and the consistency proof from the size it holds, answers 409 with that size when the
    request's ``old`` differs, and 200 when it accepts."""

    def __init__(self, verifier):
        self.verifier, self.size, self.root, self.requests = verifier, 0, None, 0

    def handle(self, request):
        import httpx

        from gateway.audit.c2sp_note import NoteError

        self.requests += 1
        head, _, note = request.content.decode().partition("\n\n")
        lines = head.split("\n")
        old = int(lines[0].removeprefix("old "))
        proof = [base64.b64decode(p) for p in lines[1:] if p]
        if old != self.size:
            return httpx.Response(409, text=f"{self.size}\n", headers={"content-type": "text/x.tlog.size"})
        try:
            cp = open_checkpoint(note, self.verifier)
            if self.size:
                verify_consistency(self.size, cp.size, self.root, cp.root, proof)
        except (NoteError, ValueError):
            return httpx.Response(422)
        self.size, self.root = cp.size, cp.root
        return httpx.Response(200, text="\u2014 witness cosignature\n")


def test_https_witness_gets_checkpoints_with_consistency_proofs(session_factory, signer):
    import httpx

    from gateway.audit.witness import HttpWitness

    fake = FakeTlogWitness(signer.verifier)
    witness = HttpWitness(
        "https://witness.test/add-checkpoint", httpx.Client(transport=httpx.MockTransport(fake.handle))
    )
    _append(session_factory, 3)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    with session_factory() as session:
        assert export_latest(session, witness) == 3
    _append(session_factory, 4, start=3)
    with session_factory.begin() as session:
        checkpoints.checkpoint_if_due(session, signer, T0, force=True)
    # A fresh gateway process does not know what the witness holds: the 409 tells it, and it retries.
    restarted = HttpWitness(
        "https://witness.test/add-checkpoint", httpx.Client(transport=httpx.MockTransport(fake.handle))
    )
    with session_factory() as session:
        assert export_latest(session, restarted) == 7
    assert fake.size == 7 and fake.requests == 3


def test_the_ticker_signs_a_due_checkpoint_and_feeds_the_witness_outside_the_write_lock(
    session_factory, signer, tmp_path, database_url
):
    """The witness may be a remote service: while it answers, a serving process's writers are not held up
    (on SQLite another connection takes the write lock at once inside ``add``)."""
    import sqlite3

    from gateway.audit.ticker import CheckpointTicker

    class LockProbingWitness(DirectoryWitness):
        def add(self, old_size: int, proof: list[bytes], note: str) -> int:
            if database_url.startswith("sqlite:///"):
                other = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=0, isolation_level=None)
                try:
                    other.execute("BEGIN IMMEDIATE")  # "database is locked" if the ticker held the lock
                    other.execute("ROLLBACK")
                finally:
                    other.close()
            return super().add(old_size, proof, note)

    witness = LockProbingWitness(tmp_path / "witness")
    _append(session_factory, 4)
    ticker = CheckpointTicker(session_factory, signer, tick=60, witness_=witness)
    ticker.run_once()
    assert witness.known_size() == 4
    ticker.run_once()  # nothing due: no checkpoint, the witness unchanged
    assert witness.known_size() == 4
    with session_factory() as session:
        assert [c.tree_size for c in session.execute(select(LogCheckpoint)).scalars()] == [4]
