"""Several gateway processes appending at once keep one linear, gap-free, verifiable order."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gateway.audit import checkpoints, log
from gateway.audit.c2sp_note import NoteSigner
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.verify import verify_rows
from gateway.audit.verify_log import verify_log
from gateway.db.engine import make_engine, make_session_factory

# The processes are forked from the test's own: each is a process of its own with its own engine and
# connections (nothing of the parent's is used in a child), without importing the gateway anew.
PROCESSES_CONTEXT = multiprocessing.get_context("fork")


def write(url: str, worker: int, count: int) -> None:
    sessions = make_session_factory(make_engine(url))
    for i in range(count):
        with sessions.begin() as session:
            log.append(
                session,
                NewEntry(
                    event=AuditEvent.BUNDLE_RELEASED,
                    outcome=Outcome.RELEASED,
                    created_at=datetime.now(UTC),
                    client_id=f"worker-{worker}",
                    reason=str(i),
                ),
            )


# A fifth process signs checkpoints while the writers append, as each serving process's ticker does.
def sign_checkpoints(url: str, key: Ed25519PrivateKey, total: int) -> None:
    signer = NoteSigner("gateway.test/disclosure-log", key)
    sessions = make_session_factory(make_engine(url))
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        with sessions.begin() as session:
            made = checkpoints.checkpoint_if_due(session, signer, force=True)
        if made is not None and made.tree_size >= total:
            break
        time.sleep(0.05)


PROCESSES = 4
APPENDS = {"postgresql": 500, "sqlite": 100}


def test_parallel_processes_append_in_one_order(database_url, session_factory):
    count = APPENDS["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    key = Ed25519PrivateKey.generate()
    checkpointer = PROCESSES_CONTEXT.Process(target=sign_checkpoints, args=(database_url, key, PROCESSES * count))
    workers = [PROCESSES_CONTEXT.Process(target=write, args=(database_url, w, count)) for w in range(PROCESSES)]
    for process in (checkpointer, *workers):
        process.start()
    for process in (*workers, checkpointer):
        process.join(timeout=300)
    assert [w.exitcode for w in workers] == [0] * PROCESSES
    assert checkpointer.exitcode == 0
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        result = verify_rows(iter(rows), log.read_head(session))
        signer = NoteSigner("gateway.test/disclosure-log", key)
        full = verify_log(session, signer.verifier)
        signed = [c.tree_size for c in checkpoints.iter_checkpoints(session)]
    assert result.ok, result.failure
    assert full.ok, full.failure
    assert [r.seq for r in rows] == list(range(PROCESSES * count))
    assert {r.client_id for r in rows} == {f"worker-{w}" for w in range(PROCESSES)}
    # Checkpoints were signed while appends were under way, and the last covers every entry.
    assert len(signed) >= 2 and signed[-1] == PROCESSES * count
    assert full.checkpoints == len(signed)
