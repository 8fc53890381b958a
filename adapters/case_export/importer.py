"""Importing an export: each row mapped (``columns.py``), then published through the gateway's one publish
path (``gateway.ingest.service``) straight into the store, in this process.

The importer does not go through HTTP: it runs where the gateway's database and keys are (an operator's
command, like ``ld-gateway init``), and the service function it calls is the one behind
``POST /assessments``, so validation, versioning and the log entry are identical; the log entry's event is
``ingest:assessment:imported`` and names no OAuth client. Each row commits on its own: a bad row is
reported and the others go in. Re-importing is idempotent: an unchanged row is a no-op (no new version),
a changed row is a new version of the same assessment (same ``record_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from adapters.case_export.columns import column_for, row_to_assessment
from gateway.audit.events import AuditEvent
from gateway.ingest.service import Publisher, Rejected, check, publish_document
from gateway.ingest.text_screen import TextScreen
from gateway.issue import Issue
from gateway.keys import KeyRing


@dataclass(frozen=True)
class RowResult:
    line: int
    record_id: str | None
    outcome: str  # created | new-version | unchanged | valid (dry run) | error | conflict (an identity conflict)
    assessment_id: str | None = None
    version: int | None = None
    problems: tuple[tuple[str, str], ...] = ()  # (column or location, message)
    warnings: tuple[tuple[str, str], ...] = ()  # accepted, but text for police or the CPS names a diagnosis


@dataclass
class ImportReport:
    rows: list[RowResult] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def errors(self) -> list[RowResult]:
        return [r for r in self.rows if r.outcome in ("error", "conflict")]

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {o: self.count(o) for o in ("created", "new-version", "unchanged", "valid", "error", "conflict")},
            "rows": [
                {
                    "line": r.line,
                    "record_id": r.record_id,
                    "outcome": r.outcome,
                    "assessment_id": r.assessment_id,
                    "version": r.version,
                    "problems": [{"column": c, "message": m} for c, m in r.problems],
                    "warnings": [{"column": c, "message": m} for c, m in r.warnings],
                }
                for r in self.rows
            ],
        }


def _record_id(row: dict[str, Any]) -> str | None:
    value = row.get("record_id")
    return value.strip() or None if isinstance(value, str) else None


def import_rows(
    rows: Iterable[tuple[int, dict[str, Any]]],
    *,
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    schema: dict[str, Any],
    agency_code: str,
    dry_run: bool = False,
    on_row: Callable[[RowResult], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    screen: TextScreen | None = None,
) -> ImportReport:
    """Publish each row; with a ``screen``, text bound for police or the CPS is checked for diagnostic
    terms (a warning on the row; the row is still imported)."""
    publisher = Publisher(agency_code, None, "ld-service", "ld-service", AuditEvent.PUBLISH_IMPORTED)
    report = ImportReport()
    for line, row in rows:
        result = _one(line, row, sessions, keyring, schema, publisher, dry_run, clock, screen)
        report.rows.append(result)
        if on_row is not None:
            on_row(result)
    return report


def _one(
    line: int,
    row: dict[str, Any],
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    schema: dict[str, Any],
    publisher: Publisher,
    dry_run: bool,
    clock: Callable[[], datetime],
    screen: TextScreen | None = None,
) -> RowResult:
    record_id = _record_id(row)
    document, problems = row_to_assessment(row)
    if document is None:
        return RowResult(line, record_id, "error", problems=tuple(problems))
    if dry_run:
        normalised, issues = check(sessions, schema, document)
        if issues or normalised is None:
            return RowResult(line, record_id, "error", problems=_by_column(issues))
        warned = _by_column(screen.warnings(normalised)) if screen is not None else ()
        return RowResult(line, record_id, "valid", warnings=warned)
    try:
        receipt = publish_document(sessions, keyring, schema, publisher, document, now=clock(), screen=screen)
    except Rejected as exc:
        outcome = "conflict" if exc.status == 409 else "error"
        return RowResult(line, record_id, outcome, problems=_by_column(exc.problems))
    body = receipt.body
    outcome = "created" if body["created"] else "new-version" if body["changed"] else "unchanged"
    return RowResult(line, record_id, outcome, body["id"], body["version"], warnings=_by_column(receipt.warnings))


def _by_column(issues: Iterable[Issue]) -> tuple[tuple[str, str], ...]:
    return tuple((column_for(i.expression) if i.expression else "row", i.diagnostics) for i in issues)
