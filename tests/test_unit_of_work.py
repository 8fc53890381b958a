"""The unit of work on SQLite and PostgreSQL: a refusal leaves no partial write and exactly one refusal
entry in the log; a fault leaves nothing; work that returns is committed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import DBAPIError
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


def test_a_read_sees_committed_rows_and_writes_nothing(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    unit_of_work.run(session_factory, _write_agency)

    def work(tx: Session) -> Agency:
        found = tx.execute(select(Agency).where(Agency.code == "UOW-1")).scalar_one()
        found.name = "changed inside a read"
        tx.flush()  # SQLite: really sent, and never committed (a read unit always rolls back)
        return found

    if database_url.startswith("postgresql"):
        # A READ ONLY transaction: the write raises, instead of being rolled back unseen at the end.
        with pytest.raises(DBAPIError, match="read-only transaction"):
            unit_of_work.read(session_factory, work)
        for snapshot in (False, True):
            with pytest.raises(DBAPIError, match="read-only transaction"):
                unit_of_work.read(
                    session_factory,
                    lambda tx: tx.execute(
                        insert(Agency).values(code="UOW-9", name="x", type="police", created_at=datetime.now(UTC))
                    ),
                    snapshot=snapshot,
                )
        # The pool hands the connection on as a writable one again.
        unit_of_work.run(
            session_factory,
            lambda tx: tx.execute(update(Agency).where(Agency.code == "UOW-1").values(name="Unit of work")),
        )
    else:
        agency = unit_of_work.read(session_factory, work)
        assert agency.code == "UOW-1"  # what the read loaded stays readable after it ended
    with session_factory() as s:
        assert s.scalar(select(Agency.name).where(Agency.code == "UOW-1")) == "Unit of work"


def test_a_read_on_sqlite_holds_no_write_lock(session_factory: sessionmaker[Session], database_url: str) -> None:
    """While a read unit is open, another connection takes the write lock at once (no wait allowed): the
    read began deferred, not ``BEGIN IMMEDIATE`` as a write does."""
    if not database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's write lock; PostgreSQL has no database-wide one")
    import sqlite3

    path = database_url.removeprefix("sqlite:///")

    def work(tx: Session) -> int:
        count = tx.scalar(select(func.count()).select_from(Agency)) or 0  # the read's snapshot is open
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the read held the lock
            other.execute(
                "INSERT INTO agencies (code, name, type, created_at) VALUES ('UOW-2', 'x', 'police', ?)",
                (NOW.isoformat(),),
            )
            other.execute("COMMIT")
        finally:
            other.close()
        return count

    before = unit_of_work.read(session_factory, work)
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Agency)) == before + 1


def test_a_write_on_sqlite_holds_the_write_lock(session_factory: sessionmaker[Session], database_url: str) -> None:
    """The counterpart: a write unit holds the lock from its start, so the other connection is refused."""
    if not database_url.startswith("sqlite:///"):
        pytest.skip("SQLite's write lock; PostgreSQL has no database-wide one")
    import sqlite3

    path = database_url.removeprefix("sqlite:///")

    def work(tx: Session) -> None:
        tx.scalar(select(func.count()).select_from(Agency))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()

    unit_of_work.run(session_factory, work)


def test_a_refusal_raised_from_a_with_block_is_rolled_back_logged_once_and_raised_on(
    session_factory: sessionmaker[Session],
) -> None:
    """``refusing``: the IG pages' shape. The block's write is gone, the refusal's entry is the only write."""
    with pytest.raises(Refused, match="csrf"), unit_of_work.refusing(session_factory, Refused, _log_refusal) as tx:
        _write_agency(tx)
        raise Refused("csrf")
    assert _counts(session_factory) == (0, [(AuditEvent.TASK_DENIED.value, Outcome.DENIED.value, "csrf")])


def test_a_with_block_that_ends_is_committed_and_a_fault_leaves_nothing(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(ZeroDivisionError), unit_of_work.refusing(session_factory, Refused, _log_refusal) as tx:
        _write_agency(tx)
        raise ZeroDivisionError("fault")
    assert _counts(session_factory) == (0, [])
    with unit_of_work.refusing(session_factory, Refused, _log_refusal) as tx:
        _write_agency(tx)
    assert _counts(session_factory) == (1, [])


def test_a_snapshot_read_sees_one_database_while_another_connection_commits(
    session_factory: sessionmaker[Session],
) -> None:
    """What a whole-log verification needs: rows committed after the read began are not seen by it, on
    PostgreSQL (REPEATABLE READ) as on SQLite (a deferred transaction is one snapshot)."""

    def work(tx: Session) -> tuple[int, int]:
        before = tx.scalar(select(func.count()).select_from(Agency)) or 0
        unit_of_work.run(session_factory, _write_agency)  # committed by another connection meanwhile
        after = tx.scalar(select(func.count()).select_from(Agency)) or 0
        return before, after

    before, after = unit_of_work.read(session_factory, work, snapshot=True)
    assert after == before
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Agency)) == before + 1
