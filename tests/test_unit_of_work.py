"""The unit of work on SQLite and PostgreSQL: a refusal leaves no partial write and exactly one refusal
entry in the log; a fault leaves nothing; work that returns is committed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.db import unit_of_work
from gateway.db.models import Agency, DisclosureLogEntry

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _write_agency(tx: Session) -> None:
    tx.add(Agency(code="UOW-1", name="Unit of work", type="police", created_at=NOW))
    tx.flush()  # the row is really in the transaction before the refusal


def _counts(sessions: sessionmaker[Session]) -> tuple[int, list[tuple[str, str, str | None]]]:
    """The test's agency rows, and each log entry's event, outcome and (from the hashed entry) reason."""
    with sessions() as s:
        agencies = s.scalar(select(func.count()).select_from(Agency).where(Agency.code == "UOW-1")) or 0
        rows = s.execute(select(DisclosureLogEntry.event, DisclosureLogEntry.outcome, DisclosureLogEntry.entry))
        entries = [(event, outcome, json.loads(entry).get("reason")) for event, outcome, entry in rows]
    return agencies, entries


def _log_refusal(tx: Session, refused: Refused) -> str:
    appended = log.append(
        tx, NewEntry(event=AuditEvent.TASK_DENIED, outcome=Outcome.DENIED, created_at=NOW, reason=refused.reason)
    )
    return appended.disclosure_id


def test_work_that_returns_is_committed(session_factory: sessionmaker[Session]) -> None:
    def work(tx: Session) -> str:
        _write_agency(tx)
        return "done"

    assert unit_of_work.run(session_factory, work) == "done"
    assert _counts(session_factory) == (1, [])


def test_a_refusal_rolls_back_the_work_and_logs_exactly_one_entry(session_factory: sessionmaker[Session]) -> None:
    def work(tx: Session) -> str:
        _write_agency(tx)
        raise Refused("no-case-link")

    answer = unit_of_work.run_or_refuse(session_factory, work, Refused, _log_refusal)
    agencies, entries = _counts(session_factory)
    assert agencies == 0
    assert entries == [(AuditEvent.TASK_DENIED.value, Outcome.DENIED.value, "no-case-link")]
    with session_factory() as s:
        assert s.scalar(select(DisclosureLogEntry.disclosure_id)) == answer


def test_a_refusal_handler_that_fails_leaves_nothing(session_factory: sessionmaker[Session]) -> None:
    """What ``on_refusal`` raises rolls its own entry back: it must return its answer, not raise it."""

    def work(tx: Session) -> None:
        _write_agency(tx)
        raise Refused("no-case-link")

    def log_then_fail(tx: Session, refused: Refused) -> None:
        _log_refusal(tx, refused)
        raise LookupError("the handler failed after logging")

    with pytest.raises(LookupError):
        unit_of_work.run_or_refuse(session_factory, work, Refused, log_then_fail)
    assert _counts(session_factory) == (0, [])


@pytest.mark.parametrize("runner", ["run", "run_or_refuse"])
def test_an_unexpected_error_leaves_nothing(session_factory: sessionmaker[Session], runner: str) -> None:
    def work(tx: Session) -> None:
        _write_agency(tx)
        raise ZeroDivisionError("fault")

    with pytest.raises(ZeroDivisionError):
        if runner == "run":
            unit_of_work.run(session_factory, work)
        else:
            unit_of_work.run_or_refuse(session_factory, work, Refused, _log_refusal)
    assert _counts(session_factory) == (0, [])
