"""The record of every verification of the disclosure log, and the latest one (for the IG dashboard).

Whoever verifies — ``ld-gateway audit verify`` typed by an operator, the same command on a schedule,
or the IG integrity page — leaves one row here, so "when was the log last checked, and was it intact?"
has one answer. A record is written after the check, in its own transaction: the check itself reads a
snapshot and writes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import LogVerification


class Source(StrEnum):
    CLI = "cli"
    SCHEDULE = "schedule"
    IG_PAGE = "ig-page"


SOURCE_WORDS = {
    Source.CLI: "the ld-gateway audit verify command",
    Source.SCHEDULE: "the scheduled check (ld-gateway audit verify --scheduled)",
    Source.IG_PAGE: "the IG integrity page",
}


@dataclass(frozen=True)
class Verification:
    id: str
    source: Source
    run_by: str | None
    verified_at: datetime
    status: str  # intact | failed | error
    entries: int
    from_size: int
    checkpoints: int
    head_hash: str | None
    failure: str | None

    @property
    def source_words(self) -> str:
        return SOURCE_WORDS[self.source]


def record(
    session: Session,
    *,
    source: Source,
    verified_at: datetime,
    status: str,
    entries: int,
    checkpoints: int,
    from_size: int = 0,
    head_hash: str | None = None,
    failure: str | None = None,
    run_by: str | None = None,
) -> Verification:
    """Add one record (the caller's transaction commits it)."""
    if status not in ("intact", "failed", "error"):
        raise ValueError(f"unknown verification status {status!r}")
    row = LogVerification(
        id=str(uuid.uuid4()),
        source=str(Source(source)),
        run_by=run_by,
        verified_at=verified_at,
        status=status,
        entries=entries,
        from_size=from_size,
        checkpoints=checkpoints,
        head_hash=head_hash,
        failure=failure,
    )
    session.add(row)
    session.flush()
    return _of(row)


def latest(session: Session) -> Verification | None:
    row = session.execute(
        select(LogVerification).order_by(LogVerification.verified_at.desc()).limit(1)
    ).scalar_one_or_none()
    return None if row is None else _of(row)


def recent(session: Session, limit: int = 10) -> list[Verification]:
    rows = session.execute(select(LogVerification).order_by(LogVerification.verified_at.desc()).limit(limit))
    return [_of(r) for r in rows.scalars()]


def _of(row: LogVerification) -> Verification:
    return Verification(
        row.id,
        Source(row.source),
        row.run_by,
        row.verified_at,
        row.status,
        row.entries,
        row.from_size,
        row.checkpoints,
        row.head_hash,
        row.failure,
    )
