"""Group commit for the disclosure log: many requests' writes in one transaction and one commit.

Tessera's split, in one process: request threads do their reads, decide, render and *plan* their log
entries; their one short write (the DPoP replay claim, the entries, the publishers' notices) is handed
to the writer as a job. The writer thread takes every job waiting (up to ``max_batch``), runs them one
after another in one transaction, commits, and only then wakes each job's request. So no response
leaves before its entry is durable, exactly as with a transaction per request. A job that finds
nothing waiting and no batch running is run as a batch of its own in the request's thread, the same
way (one batch runs at a time either way): waking the writer thread and being woken by it cost more
than a batch of one. The jobs' log entries
are chained in memory and written once at the end (:func:`gateway.audit.log.batch`): the head moves
once per batch, the entries go in as one multi-row insert.

A job that raises fails alone: the transaction is rolled back and the other jobs of the batch run
again, without it, in a new one (no SAVEPOINT per job, which would cost two statements on every
write for a failure that almost never happens). So a job must keep nothing outside the session it is
given that a second run would repeat. A failure of the database itself (a lost connection, a lock
timeout, a failed commit) fails every job in the batch, and each of those requests answers 503 (its
refusal logged afresh). A job with an expected refusal (a lost DPoP replay claim, checked before it
writes anything) returns it as a value instead of raising.

Across processes the log head's row lock (PostgreSQL) or the database write lock (SQLite) orders the
batches of every writer; a batch that built on a head another process had moved meanwhile is written
by none and run again (:class:`gateway.audit.log.HeadMoved`).

Each job runs in the context (``contextvars``) of the request that submitted it.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import log

T = TypeVar("T")

# Runs of one batch after the head was found moved by another process: the retry reads the head
# under the lock, so a second miss means something is wrong, not busy.
_CONTENTION_RETRIES = 3
_HEAD_RETRIES = 2


@dataclass
class _Job(Generic[T]):
    work: Callable[[Session], T]
    context: contextvars.Context
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class _JobFailed(Exception):
    """One job of a batch raised: roll the batch back and run the others again."""

    def __init__(self, job: _Job[Any]) -> None:
        self.job = job


class LogWriter:
    def __init__(self, sessions: sessionmaker[Session], max_batch: int = 64) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        # Held while a batch runs, in the writer thread or in a request's own: one batch at a time.
        self._batch = threading.Lock()
        self._holding = 0
        self.batches = 0
        self.jobs = 0

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a shared write transaction; return once that transaction has committed.

        ``work`` may be run more than once (when another job of its batch fails, or another process
        moved the log head), each time in a new transaction: it must change nothing but the session.
        """
        job: _Job[T] = _Job(work, contextvars.copy_context())
        if self._queue.empty() and self._batch.acquire(blocking=False):
            # Nothing waiting and no batch running: a batch of this job alone, run here. Handing it to
            # the writer thread would only add two thread wake-ups (there, then back) to a batch of one.
            try:
                self._run_batch([job])
            finally:
                self._batch.release()
        else:
            self._ensure_started()
            self._queue.put(job)
            job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    @property
    def waiting(self) -> int:
        """Jobs handed in and not yet taken into a batch."""
        return self._queue.qsize() + self._holding

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="ld-gateway-log-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            self._holding = 1  # still waiting: a batch (perhaps a request's own) is running
            with self._batch:
                self._holding = 0
                jobs = [first]
                while len(jobs) < self._max_batch:
                    try:
                        jobs.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                self._run_batch(jobs)

    def _run_batch(self, jobs: list[_Job[Any]]) -> None:
        pending = list(jobs)
        head_retries = contention_retries = 0
        while pending:
            try:
                self._attempt(pending)
            except _JobFailed as failed:  # that job alone fails; the others run again without it
                pending.remove(failed.job)
                continue
            except log.HeadMoved:
                head_retries += 1
                if head_retries <= _HEAD_RETRIES:
                    continue
                self._fail(pending, RuntimeError("the log head kept moving under this batch"))
            except DBAPIError as exc:
                # PostgreSQL broke a deadlock or a serialisation conflict by rolling this batch back (two
                # processes claiming one DPoP proof can do it): nothing was kept, so the batch runs again.
                contention_retries += 1
                if _contention(exc) and contention_retries <= _CONTENTION_RETRIES:
                    continue
                self._fail(pending, exc)
            except BaseException as exc:  # the batch did not commit: nothing of it is kept
                self._fail(pending, exc)
            break
        self.batches += 1
        self.jobs += len(jobs)
        for job in jobs:
            job.done.set()

    def _attempt(self, jobs: list[_Job[Any]]) -> None:
        with self._sessions.begin() as session, log.batch(session, optimistic=True):
            for job in jobs:
                job.error = None
                try:
                    job.result = job.context.run(job.work, session)
                    # Anything the job left pending is written now, so its failure is blamed on this job
                    # and not on the next one whose query would flush it.
                    session.flush()
                except Exception as exc:
                    if len(jobs) == 1 or _of_the_database(exc):
                        raise
                    job.error = exc
                    raise _JobFailed(job) from exc

    @staticmethod
    def _fail(jobs: list[_Job[Any]], exc: BaseException) -> None:
        for job in jobs:
            job.error = exc


def _contention(exc: DBAPIError) -> bool:
    """A deadlock (40P01) or serialisation failure (40001): the database's word to try again."""
    return getattr(exc.orig, "sqlstate", None) in ("40P01", "40001")


def _of_the_database(exc: BaseException) -> bool:
    """A failure every job of the batch would meet (the connection, a lock), not one job's own."""
    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )
