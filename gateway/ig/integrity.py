"""Verifying the disclosure log from the IG pages, in the background, with progress.

The check is :func:`gateway.audit.verify_log.verify_log`, the one ``ld-gateway audit verify`` runs:
every entry, the stored Merkle tree and every signed checkpoint (and those a witness holds), with the
gateway's own log key. It reads one snapshot of the log: a REPEATABLE READ transaction on PostgreSQL
(entries appended meanwhile are simply not in it; disclosures never wait), and on SQLite the
transaction's write lock (disclosures wait until it ends: SQLite is the single-machine default).
Progress is kept in this process's memory while the run holds its snapshot (on SQLite nothing else can
be written meanwhile); the result goes to ``ig_verification_runs``.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import log, verifications
from gateway.config import Settings
from gateway.db import unit_of_work
from gateway.db.models import StaffAccount, VerificationRun

# run id -> entries checked so far (this process's runs only).
_progress: dict[str, int] = {}


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


def progress_of(run: VerificationRun) -> int:
    return max(run.entries_checked, _progress.get(run.id, 0))


def _witnessed(settings: Settings) -> tuple[str, ...]:
    from gateway.audit.witness import status

    return status(settings).notes


def verify(sessions: sessionmaker[Session], run_id: str, settings: Settings) -> None:
    """Run one verification to the end and record its result. Never raises."""
    from gateway.audit.log_key import log_signer
    from gateway.audit.verify_log import LogVerifyResult, verify_log
    from gateway.keys import KeysMissing

    try:
        verifier = log_signer(settings).verifier
    except KeysMissing:
        verifier = None  # entries still verify; any checkpoint is reported as unverifiable
    total, checkpoints = None, 0
    try:

        def check(tx: Session) -> tuple[int, LogVerifyResult]:
            head = log.read_head(tx)
            return 0 if head is None else head[0], verify_log(
                tx, verifier, progress=lambda n: _progress.__setitem__(run_id, n), witnessed=_witnessed(settings)
            )

        # One snapshot of the log however long it takes, holding no write lock (disclosures go on).
        total, result = unit_of_work.read(sessions, check, snapshot=True)
        status = "intact" if result.ok else "failed"
        failure = None if result.failure is None else str(result.failure)
        checked, head_hash, checkpoints = result.entries, result.head_hash, result.checkpoints
    except Exception as exc:
        status, failure, checked, head_hash = "error", f"could not finish ({exc.__class__.__name__})", 0, None

    def finish(session: Session) -> None:
        run = session.get(VerificationRun, run_id)
        if run is not None:
            run.status = status
            run.failure = failure
            run.head_hash = head_hash
            run.entries_checked = max(checked, _progress.get(run_id, 0)) if status != "error" else 0
            run.checkpoints_checked = checkpoints
            if total is not None:
                run.total_entries = total  # the head of the snapshot verified (the start was itself logged)
            run.finished_at = _now()
            staff = session.get(StaffAccount, run.started_by)
            verifications.record(
                session,
                source=verifications.Source.IG_PAGE,
                verified_at=run.finished_at,
                status=status,
                entries=run.entries_checked,
                checkpoints=checkpoints or 0,
                head_hash=head_hash,
                failure=failure,
                run_by=staff.display_name if staff else None,
            )

    unit_of_work.run(sessions, finish)
    _progress.pop(run_id, None)


def run_in_background(sessions: sessionmaker[Session], run_id: str, settings: Settings) -> threading.Thread:
    thread = threading.Thread(
        target=verify, args=(sessions, run_id, settings), name=f"ig-verify-{run_id[:8]}", daemon=True
    )
    thread.start()
    return thread
