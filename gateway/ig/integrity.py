"""Verifying the whole disclosure log from the IG pages, in the background, with progress.

The check itself is :func:`gateway.audit.verify.verify_rows`, the same one ``ld-gateway audit verify``
runs. Here the rows are read in short transactions of one batch each, so a long verification never
holds a database lock that disclosures wait for (on SQLite every transaction takes the write lock).
The log is append-only, so the rows below the head read at the start are the whole log as of then;
progress and the result are written to ``ig_verification_runs``.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import log
from gateway.audit.verify import StoredRow, verify_rows
from gateway.db.models import DisclosureLogEntry, VerificationRun

BATCH = 2000


def _now() -> datetime:
    return datetime.now(UTC)


def start(session: Session, staff_id: str) -> VerificationRun:
    """Record a new run (the caller commits, then calls :func:`run_in_background`)."""
    head = log.read_head(session)
    run = VerificationRun(
        id=str(uuid.uuid4()),
        started_by=staff_id,
        started_at=_now(),
        status="running",
        total_entries=0 if head is None else head[0],
        entries_checked=0,
    )
    session.add(run)
    session.flush()
    return run


def _rows(sessions: sessionmaker[Session], size: int, progress: Callable[[int], None]) -> Iterator[StoredRow]:
    last, seen = -1, 0
    while last + 1 < size:
        with sessions() as session:
            batch = list(
                session.execute(
                    select(DisclosureLogEntry)
                    .where(DisclosureLogEntry.seq > last, DisclosureLogEntry.seq < size)
                    .order_by(DisclosureLogEntry.seq)
                    .limit(BATCH)
                ).scalars()
            )
        if not batch:
            return
        for row in batch:
            yield StoredRow(
                seq=row.seq,
                disclosure_id=row.disclosure_id,
                event=row.event,
                client_id=row.client_id,
                agency_code=row.agency_code,
                purpose=row.purpose,
                subject_key=row.subject_key,
                outcome=row.outcome,
                created_at=row.created_at,
                entry=row.entry,
                prev_hash=row.prev_hash,
                leaf_hash=row.leaf_hash,
            )
        seen += len(batch)
        last = batch[-1].seq
        progress(seen)


def verify(sessions: sessionmaker[Session], run_id: str) -> None:
    """Run one verification to the end and record its result. Never raises."""

    def progress(seen: int) -> None:
        with sessions.begin() as session:
            run = session.get(VerificationRun, run_id)
            if run is not None:
                run.entries_checked = seen

    try:
        with sessions() as session:
            head = log.read_head(session)
        size = 0 if head is None else head[0]
        with sessions.begin() as session:
            run = session.get(VerificationRun, run_id)
            if run is not None:
                run.total_entries = size  # the head as this run read it (the start itself was logged)
        result = verify_rows(_rows(sessions, size, progress), head)
        status = "intact" if result.ok else "failed"
        failure = None if result.failure is None else str(result.failure)
        checked, head_hash = result.entries, result.head_hash
    except Exception as exc:
        status, failure, checked, head_hash = (
            "error",
            f"verification could not finish ({exc.__class__.__name__})",
            0,
            None,
        )
    with sessions.begin() as session:
        run = session.get(VerificationRun, run_id)
        if run is not None:
            run.status = status
            run.failure = failure
            run.head_hash = head_hash
            run.entries_checked = max(run.entries_checked, checked)
            run.finished_at = _now()


def run_in_background(sessions: sessionmaker[Session], run_id: str) -> threading.Thread:
    thread = threading.Thread(target=verify, args=(sessions, run_id), name=f"ig-verify-{run_id[:8]}", daemon=True)
    thread.start()
    return thread
