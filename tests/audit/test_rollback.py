"""Rollback of the log shows: ``ld-gateway init`` sets up a witness outside the database by default, and
``ld-gateway audit verify`` fails when the database is behind, or forks from, what the witness saw.

Attacks, and what holds them (each on SQLite and PostgreSQL, through the real command line):
- restoring an older copy of the database (taken after an earlier checkpoint): behind the witness;
- truncating the log back to an earlier checkpoint, head and tree made consistent: behind the witness;
- rewriting an entry the witness's checkpoint covers and rebuilding the whole log and its checkpoints
  with the log's own key (an insider with the keys): forks from the witness;
- each of these passes `audit verify` with the witness turned off, which then says so plainly.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import create_engine, delete, text, update
from sqlalchemy.engine import make_url

from gateway.audit import log
from gateway.audit.entry import GENESIS_HASH, NewEntry, WithheldField
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.rfc9162 import compact_append
from gateway.config import get_settings
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import DisclosureLogEntry, LogCheckpoint, LogHead, LogTreeNode
from tests.audit.test_log import _append


@pytest.fixture
def sessions(settings) -> Iterator:
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def grow_and_checkpoint(cli, sessions, n: int, start: int) -> None:
    _append(sessions, n, start)
    cli("audit", "checkpoint")


def verify(cli, code: int, *, witness_off: bool = False, monkeypatch=None) -> dict:
    if witness_off:
        monkeypatch.setenv("GATEWAY_WITNESS_DIR", "off")
        get_settings.cache_clear()
    result = json.loads(cli("audit", "verify", "--json", code=code).stdout)
    text_out = cli("audit", "verify", code=code).output
    if witness_off:
        monkeypatch.delenv("GATEWAY_WITNESS_DIR")
        get_settings.cache_clear()
        assert "cannot be detected" in text_out
        assert result["witness"] == {**result["witness"], "kind": "off", "rollback_detectable": False}
    return result


def test_init_sets_up_a_witness_outside_the_database_by_default(cli, settings, sessions):
    out = cli("init").output
    witness_dir = settings.data_dir / "witness"
    assert witness_dir.is_dir() and oct(witness_dir.stat().st_mode & 0o777) == "0o700"
    assert "Witness directory" in out and "cannot be detected" not in out
    grow_and_checkpoint(cli, sessions, 3, 0)
    assert (witness_dir / "checkpoint.3").is_file()
    result = verify(cli, 0)
    assert result["witness"]["kind"] == "directory" and result["witness"]["newest_size"] == 3


def test_with_the_witness_off_every_check_says_rollback_cannot_be_detected(cli, monkeypatch):
    monkeypatch.setenv("GATEWAY_WITNESS_DIR", "off")
    get_settings.cache_clear()
    assert "cannot be detected" in cli("init").output
    monkeypatch.delenv("GATEWAY_WITNESS_DIR")
    verify(cli, 0, witness_off=True, monkeypatch=monkeypatch)


def _sqlite_copy(source: str, target: str) -> None:
    """SQLite's online backup (the WAL included), as `sqlite3 .backup` / `.restore` would do it."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    src.close()
    dst.close()


def _copy_database(url: str) -> str:
    """A copy of the database as it is now (SQLite: the file; PostgreSQL: CREATE DATABASE ... TEMPLATE)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_copy(parsed.database, parsed.database + ".backup")
        return url
    copy = f"{parsed.database}_backup"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": parsed.database},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{copy}"'))
        conn.execute(text(f'CREATE DATABASE "{copy}" TEMPLATE "{parsed.database}"'))
    admin.dispose()
    return parsed.set(database=copy).render_as_string(hide_password=False)


def _restore(url: str, copy: str, monkeypatch) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _sqlite_copy(parsed.database + ".backup", parsed.database)
    else:  # the gateway is pointed at the older copy, as an operator restoring a dump would
        monkeypatch.setenv("GATEWAY_DATABASE_URL", copy)
        get_settings.cache_clear()


def test_a_restored_older_copy_of_the_database_is_caught(cli, settings, sessions, monkeypatch):
    cli("init")
    grow_and_checkpoint(cli, sessions, 3, 0)
    sessions.kw["bind"].dispose()
    copy = _copy_database(settings.database_url)
    grow_and_checkpoint(cli, sessions, 4, 3)
    verify(cli, 0)
    sessions.kw["bind"].dispose()
    _restore(settings.database_url, copy, monkeypatch)
    result = verify(cli, 1)
    assert result["first_bad_entry"]["kind"] == "checkpoint" and result["first_bad_entry"]["seq"] == 7
    assert "behind its witness: the witness saw 7 entries, the log holds 3" in result["first_bad_entry"]["problem"]
    assert "behind or forks" in cli("init", code=1).output  # nor does init quietly carry on
    # Without the witness the older copy looks perfect: exactly what the default prevents.
    assert verify(cli, 0, witness_off=True, monkeypatch=monkeypatch)["ok"] is True


def _truncate_to(sessions, size: int) -> None:
    with sessions.begin() as session:
        leaves = [r.leaf_hash for r in log.iter_rows(session) if r.seq < size]
        compact: list[bytes] = []
        for index, leaf in enumerate(leaves):
            compact, _ = compact_append(compact, index, bytes.fromhex(leaf))
        session.execute(delete(DisclosureLogEntry).where(DisclosureLogEntry.seq >= size))
        session.execute(delete(LogCheckpoint).where(LogCheckpoint.tree_size > size))
        for node in session.query(LogTreeNode).all():
            if (node.idx + 1) << node.level > size:
                session.delete(node)
        session.execute(
            update(LogHead)
            .where(LogHead.id == 1)
            .values(size=size, head_hash=leaves[-1], compact_range=log.encode_compact(compact))
        )


def test_a_truncation_to_an_earlier_checkpoint_is_caught(cli, sessions, monkeypatch):
    cli("init")
    grow_and_checkpoint(cli, sessions, 4, 0)
    grow_and_checkpoint(cli, sessions, 5, 4)
    _truncate_to(sessions, 4)
    result = verify(cli, 1)
    assert "the witness saw 9 entries, the log holds 4" in result["first_bad_entry"]["problem"]
    assert verify(cli, 0, witness_off=True, monkeypatch=monkeypatch)["ok"] is True


def _rebuild_with_one_entry_rewritten(sessions, seq: int) -> None:
    """Everything an insider holding the database would redo: entries, hashes, tree, head."""
    with sessions.begin() as session:
        entries = [json.loads(r.entry) for r in log.iter_rows(session)]
        for table in (DisclosureLogEntry, LogTreeNode, LogCheckpoint):
            session.execute(delete(table))
        session.execute(
            update(LogHead).where(LogHead.id == 1).values(size=0, head_hash=GENESIS_HASH, compact_range=None)
        )
    entries[seq]["agency_code"] = "CPS-NE"  # who received it, rewritten
    for data in entries:
        with sessions.begin() as session:
            fields = {k: v for k, v in data.items() if k not in ("seq", "prev_hash")}
            fields["event"], fields["outcome"] = AuditEvent(fields["event"]), Outcome(fields["outcome"])
            fields["created_at"] = datetime.fromisoformat(fields["created_at"])
            fields["withheld"] = tuple(WithheldField(**w) for w in fields["withheld"])
            log.append(session, NewEntry(**fields))


def test_entries_rewritten_and_re_signed_after_the_last_checkpoint_are_caught(cli, sessions, monkeypatch):
    cli("init")
    grow_and_checkpoint(cli, sessions, 6, 0)
    _rebuild_with_one_entry_rewritten(sessions, 2)
    cli("audit", "checkpoint", "--no-export")  # re-signed with the log's own key
    result = verify(cli, 1)
    assert result["first_bad_entry"]["seq"] == 6 and "the log forks" in result["first_bad_entry"]["problem"]
    assert verify(cli, 0, witness_off=True, monkeypatch=monkeypatch)["ok"] is True
    # And the witness itself refuses to be moved onto the fork.
    _append(sessions, 1, 6)
    assert "does not extend" in " ".join(cli("audit", "checkpoint", code=1).output.split())
