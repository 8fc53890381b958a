"""The log writer: jobs share transactions, and each returns only once its writes are committed."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.verify import verify_rows
from gateway.audit.verify_log import verify_log
from gateway.audit.writer import LogWriter
from tests.factories import in_threads, log_verdict


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

    assert not in_threads(24, one)
    assert seen_after_return == [True] * 24
    assert writer.jobs == 24 and 1 <= writer.batches <= 24
    result = log_verdict(session_factory)
    assert result.ok and result.entries == 24


def test_a_failing_job_keeps_nothing_and_the_writer_goes_on(session_factory):
    writer = LogWriter(session_factory)

    def failing(session):
        _entry(session, 0)
        raise ValueError("after its append")

    with pytest.raises(ValueError):
        writer.run(failing)
    writer.run(lambda session: _entry(session, 1))
    result = log_verdict(session_factory)
    assert result.ok and result.entries == 1


def _hold_the_writer(writer: LogWriter) -> threading.Event:
    """Keep the writer busy on a first job until the returned event is set, so the jobs handed in
    meanwhile are all taken into the next batch together."""
    release, started = threading.Event(), threading.Event()

    def blocker(session):
        started.set()
        release.wait(30)

    threading.Thread(target=writer.run, args=(blocker,), daemon=True).start()
    assert started.wait(30)
    return release


def _submit(writer: LogWriter, work, outcomes: dict, key) -> threading.Thread:
    def go() -> None:
        try:
            outcomes[key] = writer.run(work)
        except Exception as exc:  # the test looks at which jobs failed
            outcomes[key] = exc

    thread = threading.Thread(target=go)
    thread.start()
    return thread


def _wait_for_queue(writer: LogWriter, count: int) -> None:
    event = threading.Event()
    while writer.waiting < count:
        event.wait(0.01)


def test_a_job_that_raises_fails_alone_and_the_others_of_its_batch_commit(session_factory):
    writer = LogWriter(session_factory)
    release = _hold_the_writer(writer)
    batches_before = writer.batches

    def failing(session):
        _entry(session, 99)
        raise ValueError("after its append")

    outcomes: dict = {}
    threads = [_submit(writer, lambda s, i=i: _entry(s, i), outcomes, i) for i in range(3)]
    threads.append(_submit(writer, failing, outcomes, "failing"))
    threads += [_submit(writer, lambda s, i=i: _entry(s, i), outcomes, i) for i in range(3, 6)]
    _wait_for_queue(writer, 7)
    release.set()
    for thread in threads:
        thread.join(30)

    assert writer.batches == batches_before + 2  # the blocker's batch, then all seven jobs in one
    assert isinstance(outcomes.pop("failing"), ValueError)
    appended = [outcomes[i] for i in range(6)]
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        result = verify_rows(rows, log.read_head(session))
    assert result.ok and result.entries == 6
    # What each job was told (position, leaf hash) is what the log holds: the failed job's entry left
    # no gap and nothing of it was kept.
    stored = {row.disclosure_id: (row.seq, row.leaf_hash) for row in rows}
    assert sorted(stored.values()) == sorted((a.seq, a.leaf_hash) for a in appended)
    assert all(stored[a.disclosure_id] == (a.seq, a.leaf_hash) for a in appended)
    assert {row.client_id for row in rows} == {f"client-{i}" for i in range(6)}


def test_a_batch_built_on_a_head_another_process_moved_is_run_again(session_factory, database_url):
    from gateway.db.engine import make_engine, make_session_factory

    writer = LogWriter(session_factory)
    first = writer.run(lambda session: _entry(session, 0))  # this process now remembers the head
    other = make_engine(database_url)  # another process: its own engine, its own remembered head
    try:
        with make_session_factory(other).begin() as session:
            moved = _entry(session, 1)
    finally:
        other.dispose()
    runs: list[int] = []

    def counted(session):
        runs.append(1)
        return _entry(session, 2)

    again = writer.run(counted)
    assert len(runs) == 2  # built on the stale head once, written by nobody, then run under the lock
    assert (first.seq, moved.seq, again.seq) == (0, 1, 2)
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        result = verify_rows(rows, log.read_head(session))
    assert result.ok and result.entries == 3
    assert rows[2].leaf_hash == again.leaf_hash and rows[2].prev_hash == moved.leaf_hash


def test_batched_appends_store_what_appends_one_by_one_store(session_factory):
    """The in-memory chain of a batch (head moved once, one multi-row insert) gives the same log, tree
    and head as the same entries appended one at a time."""
    from gateway.audit import tree
    from gateway.audit.rfc9162 import merkle_tree_hash

    with session_factory.begin() as session, log.batch(session):
        batched = [_entry(session, i) for i in range(37)]
    with session_factory.begin() as session:
        single = [_entry(session, i) for i in range(37, 40)]
    with session_factory.begin() as session, log.batch(session):
        batched += [_entry(session, i) for i in range(40, 45)]
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        assert verify_rows(rows, log.read_head(session)).ok
        leaves = [bytes.fromhex(r.leaf_hash) for r in rows]
        assert [a.seq for a in batched[:37] + single + batched[37:]] == list(range(45))
        for size in (1, 2, 7, 32, 37, 40, 45):
            assert tree.root_at(session, size) == merkle_tree_hash(leaves[:size])
        # The stored subtrees and the head's compact range too.
        assert verify_log(session, None).ok


class _Deadlock(Exception):
    sqlstate = "40P01"  # what psycopg's DeadlockDetected carries


def test_a_batch_the_database_rolled_back_for_a_deadlock_is_run_again(session_factory):
    from sqlalchemy.exc import OperationalError

    writer = LogWriter(session_factory)
    tries = []

    def deadlocked_once(session):
        tries.append(1)
        appended = _entry(session, len(tries))
        if len(tries) == 1:
            raise OperationalError("UPDATE log_head ...", {}, _Deadlock())
        return appended

    appended = writer.run(deadlocked_once)
    assert len(tries) == 2 and appended.seq == 0
    result = log_verdict(session_factory)
    assert result.ok and result.entries == 1


def test_a_database_error_that_is_not_contention_fails_the_job(session_factory):
    from sqlalchemy.exc import OperationalError

    writer = LogWriter(session_factory)

    def broken(session):
        raise OperationalError("SELECT 1", {}, Exception("connection lost"))

    with pytest.raises(OperationalError):
        writer.run(broken)


def test_after_a_failed_commit_the_next_batch_chains_from_the_durable_head(session_factory):
    """The head a batch wrote is remembered only once its commit succeeded: the next batch builds on the
    head the database holds, at once, not on the failed batch's (refused, and all its work run again)."""
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    writer = LogWriter(session_factory)
    first = writer.run(lambda session: _entry(session, 0))
    engine = session_factory.kw["bind"]
    failed: list[int] = []

    def commit_fails_once(_conn) -> None:
        if not failed:
            failed.append(1)
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    event.listen(engine, "commit", commit_fails_once)
    try:
        with pytest.raises(OperationalError):
            writer.run(lambda session: _entry(session, 1))
    finally:
        event.remove(engine, "commit", commit_fails_once)
    runs: list[int] = []

    def counted(session):
        runs.append(1)
        return _entry(session, 2)

    again = writer.run(counted)
    assert failed == [1]
    assert runs == [1]
    with session_factory() as session:
        rows = list(log.iter_rows(session))
        result = verify_rows(rows, log.read_head(session))
    assert result.ok and result.entries == 2
    assert (again.seq, rows[1].prev_hash) == (first.seq + 1, first.leaf_hash)
