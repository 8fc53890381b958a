"""The disclosure log: appends link up, and any edit, deletion or reordering is detected and named."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gateway.audit import log
from gateway.audit.entry import NewEntry, WithheldField
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.rfc9162 import leaf_hash
from gateway.audit.verify import verify_rows
from gateway.cli import app
from gateway.config import get_settings
from tests.factories import in_threads


def _append(session_factory, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        with session_factory.begin() as session:
            row = log.append(
                session,
                NewEntry(
                    event=AuditEvent.BUNDLE_RELEASED,
                    outcome=Outcome.RELEASED,
                    created_at=datetime(2026, 11, 26, 12, 0, i % 60, tzinfo=UTC),
                    client_id=f"client-{i % 3}",
                    agency_code="POL-NE",
                    agency_type="police",
                    purpose="charging",
                    subject_key="ab" * 32,
                    released=("identity.name", "vulnerability.summary"),
                    withheld=(WithheldField("clinical.diagnoses", "not-needed-for-purpose", "not needed"),),
                    body_sha256="cd" * 32,
                ),
            )
            ids.append(row.disclosure_id)
    return ids


def _verify(session_factory):
    with session_factory() as session:
        return verify_rows(log.iter_rows(session), log.read_head(session))


def test_untouched_log_verifies(session_factory):
    _append(session_factory, 5)
    result = _verify(session_factory)
    assert result.ok, result.failure
    assert result.entries == 5


def test_entries_link_and_hash_per_rfc9162(session_factory):
    _append(session_factory, 3)
    with session_factory() as session:
        rows = list(log.iter_rows(session))
    assert [r.seq for r in rows] == [0, 1, 2]
    assert rows[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.leaf_hash
    for row in rows:
        assert row.leaf_hash == leaf_hash(row.entry.encode()).hex()
        assert json.loads(row.entry)["seq"] == row.seq


TAMPERS = {
    "edit entry": ("UPDATE disclosure_log SET entry = replace(entry, 'POL-NE', 'MC-NE') WHERE seq = 2", 2),
    "edit searchable column": ("UPDATE disclosure_log SET agency_code = 'MC-NE' WHERE seq = 3", 3),
    "delete middle": ("DELETE FROM disclosure_log WHERE seq = 1", 1),
    "delete tail": ("DELETE FROM disclosure_log WHERE seq = 4", 4),
    "swap rows": (
        "UPDATE disclosure_log SET seq = 101 WHERE seq = 1;"
        "UPDATE disclosure_log SET seq = 1 WHERE seq = 2;"
        "UPDATE disclosure_log SET seq = 2 WHERE seq = 101",
        1,
    ),
}


@pytest.mark.parametrize("how", sorted(TAMPERS))
def test_tampering_is_detected_and_named(session_factory, db_engine, how):
    ids = _append(session_factory, 5)
    statements, first_bad = TAMPERS[how]
    with db_engine.begin() as conn:
        for statement in statements.split(";"):
            conn.execute(text(statement))
    result = _verify(session_factory)
    assert not result.ok
    assert result.failure.seq == first_bad
    if first_bad < 4 and how != "swap rows":
        assert result.failure.disclosure_id in (ids[first_bad], ids[first_bad + 1])


def test_rewritten_entry_with_recomputed_hash_still_detected(session_factory, db_engine):
    """An attacker who edits an entry and recomputes its leaf hash breaks the next link."""
    _append(session_factory, 4)
    with session_factory() as session:
        row = next(r for r in log.iter_rows(session) if r.seq == 1)
    forged = row.entry.replace("POL-NE", "MC-NE")
    with db_engine.begin() as conn:
        conn.execute(
            text("UPDATE disclosure_log SET entry = :e, leaf_hash = :h, agency_code = 'MC-NE' WHERE seq = 1"),
            {"e": forged, "h": leaf_hash(forged.encode()).hex()},
        )
    result = _verify(session_factory)
    assert not result.ok and result.failure.seq == 2


def test_parallel_writers_keep_one_linear_order(session_factory):
    errors = in_threads(4, lambda i: _append(session_factory, 25, i * 100))
    assert not errors
    result = _verify(session_factory)
    assert result.ok, result.failure
    assert result.entries == 100


def test_audit_verify_command(session_factory, db_engine, settings, monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        ids = _append(session_factory, 3)
        runner = CliRunner()
        ok = runner.invoke(app, ["audit", "verify", "--json"])
        assert ok.exit_code == 0, ok.output
        assert json.loads(ok.output)["entries"] == 3
        with db_engine.begin() as conn:
            conn.execute(text("UPDATE disclosure_log SET purpose = 'sentencing' WHERE seq = 1"))
        bad = runner.invoke(app, ["audit", "verify"])
        assert bad.exit_code == 1
        assert "entry 1" in bad.output and ids[1] in bad.output
        bad_json = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).output)
        assert bad_json["ok"] is False and bad_json["first_bad_entry"]["seq"] == 1
    finally:
        get_settings.cache_clear()


def test_an_append_never_builds_on_a_remembered_head_that_has_moved(session_factory, database_url):
    """Each process remembers the head it last wrote; another process's append, or a rollback of ours,
    moves the real head away from it, and the next append must notice and build on the real one."""
    from gateway.db.engine import make_engine, make_session_factory

    other_engine = make_engine(database_url)
    other = make_session_factory(other_engine)  # another "process": its own engine, so its own memory
    try:
        _append(session_factory, 2)
        _append(other, 2, start=2)  # moves the head behind our back
        _append(session_factory, 1, start=4)
        with pytest.raises(RuntimeError), session_factory.begin() as session:
            entry = NewEntry(
                event=AuditEvent.BUNDLE_RELEASED,
                outcome=Outcome.RELEASED,
                created_at=datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC),
            )
            log.append(session, entry)
            raise RuntimeError("the request failed after its append: the transaction rolls back")
        _append(session_factory, 2, start=5)
        _append(other, 1, start=7)
    finally:
        other_engine.dispose()
    result = _verify(session_factory)
    assert result.ok, result.failure
    assert result.entries == 8
