"""Group commit for the disclosure log: many requests' writes in one transaction and one commit.

Tessera's split, in one process: request threads do their reads, decide, render and *plan* their log
entries; their one short write (the DPoP replay claim, the entries, the publishers' notices) is handed
to the writer as a job. The writer thread takes every job waiting (up to ``max_batch``), runs them one
after another in one transaction (so the log head is locked and moved once per job, but committed,
and fsynced, once per batch), commits, and only then wakes each job's request. So no response leaves
before its entry is durable, exactly as with a transaction per request; a batch that fails to commit
fails every job in it, and each of those requests answers 503 (its refusal logged afresh).

An error in any job aborts the batch, since its partial writes cannot be told apart from the others': a
job with an expected refusal (a lost DPoP replay claim, checked before it writes anything) returns it
as a value instead of raising.
Across processes the log head's row lock (PostgreSQL) or the database write lock (SQLite) orders the
batches of every writer, as it ordered single transactions.

Each job runs in the context (``contextvars``) of the request that submitted it.
"""

from __future__ import annotations

import contextvars
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    work: Callable[[Session], T]
    context: contextvars.Context
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class LogWriter:
    def __init__(self, sessions: sessionmaker[Session], max_batch: int = 64) -> None:
        self._sessions = sessions
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job[Any]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.batches = 0
        self.jobs = 0

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in a shared write transaction; return once that transaction has committed."""
        self._ensure_started()
        job: _Job[T] = _Job(work, contextvars.copy_context())
        self._queue.put(job)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[no-any-return]

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._loop, name="ld-gateway-log-writer", daemon=True)
                    self._thread.start()

    def _loop(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < self._max_batch:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._run_batch(jobs)

    def _run_batch(self, jobs: list[_Job[Any]]) -> None:
        try:
            with self._sessions.begin() as session:
                for job in jobs:
                    job.result = job.context.run(job.work, session)
        except BaseException as exc:  # the batch did not commit: nothing of it is kept
            for job in jobs:
                job.error = exc
        self.batches += 1
        self.jobs += len(jobs)
        for job in jobs:
            job.done.set()
