"""Several gateway processes appending at once keep one linear, gap-free, verifiable order."""

from __future__ import annotations

import multiprocessing
import time
from datetime import UTC, datetime
from multiprocessing.synchronize import Event as EventType

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


def write(url: str, worker: int, count: int, first_signed: EventType) -> None:
    sessions = make_session_factory(make_engine(url))
    for i in range(count):
        if i == count // 2:
            # Half-way, until a checkpoint is signed: so one is signed while the appends are under way,
            # however the processes are scheduled (a bound, should the signer have died).
            first_signed.wait(BOUND)
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


# A fifth process signs checkpoints while the writers append, as each serving process's ticker does,
# until it has signed every entry or the writers are done (then its last try saw all they wrote).
def sign_checkpoints(
    url: str, key: Ed25519PrivateKey, total: int, first_signed: EventType, writers_done: EventType
) -> None:
    signer = NoteSigner("gateway.test/disclosure-log", key)
    sessions = make_session_factory(make_engine(url))
    while True:
        finished = writers_done.is_set()
        with sessions.begin() as session:
            made = checkpoints.checkpoint_if_due(session, signer, force=True)
        if made is not None:
            first_signed.set()
            if made.tree_size >= total:
                return
        if finished:
            return
        time.sleep(0.05)


PROCESSES = 4
BOUND = 600  # seconds: a bound on a broken build, never reached by a working one
APPENDS = {"postgresql": 500, "sqlite": 100}


def test_parallel_processes_append_in_one_order(database_url, session_factory):
    count = APPENDS["sqlite" if database_url.startswith("sqlite") else "postgresql"]
    key = Ed25519PrivateKey.generate()
    first_signed, writers_done = PROCESSES_CONTEXT.Event(), PROCESSES_CONTEXT.Event()
    checkpointer = PROCESSES_CONTEXT.Process(
        target=sign_checkpoints, args=(database_url, key, PROCESSES * count, first_signed, writers_done)
    )
    workers = [
        PROCESSES_CONTEXT.Process(target=write, args=(database_url, w, count, first_signed)) for w in range(PROCESSES)
    ]
    for process in (checkpointer, *workers):
        process.start()
    for worker in workers:
        worker.join(timeout=BOUND)
    writers_done.set()
    checkpointer.join(timeout=BOUND)
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
