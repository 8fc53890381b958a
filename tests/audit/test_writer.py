"""The log writer: jobs share transactions, and each returns only once its writes are committed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.verify import verify_rows
from gateway.audit.writer import LogWriter


def _entry(session, i: int):
    return log.append(
        session,
        NewEntry(
            event=AuditEvent.BUNDLE_RELEASED,
            outcome=Outcome.RELEASED,
            created_at=datetime(2026, 11, 26, 12, 0, i % 60, tzinfo=UTC),
            client_id=f"client-{i}",
        ),
    )


def test_concurrent_jobs_are_durable_when_run_returns(session_factory):
    writer = LogWriter(session_factory, max_batch=8)
    seen_after_return: list[bool] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        row = writer.run(lambda session: _entry(session, i))
        with session_factory() as session:  # another session: only committed rows are visible to it
            committed = any(r.disclosure_id == row.disclosure_id for r in log.iter_rows(session))
        with lock:
            seen_after_return.append(committed)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen_after_return == [True] * 24
    assert writer.jobs == 24 and 1 <= writer.batches <= 24
    with session_factory() as session:
        result = verify_rows(log.iter_rows(session), log.read_head(session))
    assert result.ok and result.entries == 24


def test_a_failing_job_keeps_nothing_and_the_writer_goes_on(session_factory):
    writer = LogWriter(session_factory)

    def failing(session):
        _entry(session, 0)
        raise ValueError("after its append")

    with pytest.raises(ValueError):
        writer.run(failing)
    writer.run(lambda session: _entry(session, 1))
    with session_factory() as session:
        result = verify_rows(log.iter_rows(session), log.read_head(session))
    assert result.ok and result.entries == 1
