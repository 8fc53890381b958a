"""Engine and session factory for SQLite (WAL) and PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    # The pool's own reset (below) instead of its rollback on every return.
    kwargs.setdefault("pool_reset_on_return", None)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _sqlite_pragmas(engine)
    else:
        # READ COMMITTED pinned: the log head row lock relies on it, whatever the server's default.
        kwargs.setdefault("isolation_level", "READ COMMITTED")
        # No ping on every checkout (a round trip per transaction): a connection the server dropped fails
        # its statement, SQLAlchemy recognises the disconnect and invalidates the whole pool, and the next
        # checkout connects afresh (tests/faults: PostgreSQL stopped and restarted under load).
        engine = create_engine(url, **kwargs)
    if kwargs["pool_reset_on_return"] is None:
        event.listen(engine, "reset", _rollback_if_in_transaction)
    return engine


def _rollback_if_in_transaction(dbapi_conn: Any, _record: Any, state: Any) -> None:
    """A connection goes back to the pool with no transaction open. A Session's close has ended its
    transaction already and then returns the connection, on which the pool's default reset rolled back
    again: on PostgreSQL a round trip per transaction, twice per pull, for nothing. So roll back only what
    the driver says is open (psycopg's transaction status, sqlite3's ``in_transaction``); a driver that
    cannot say is rolled back as before."""
    if state.terminate_only:
        return
    info = getattr(dbapi_conn, "info", None)
    status = getattr(info, "transaction_status", None)
    if status is not None:
        if status != 0:  # psycopg.pq.TransactionStatus.IDLE
            dbapi_conn.rollback()
        return
    if getattr(dbapi_conn, "in_transaction", True):
        dbapi_conn.rollback()


#: Execution option marking a read-only engine view (see :func:`make_read_session_factory`).
READ_ONLY = "ldg_read_only"


def _sqlite_pragmas(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN until the first write, which lets two
    # writers read the same log head. We take over: every transaction that may write starts BEGIN
    # IMMEDIATE, so the database write lock is held from the start and appends serialise across
    # processes. Read-only transactions start a deferred BEGIN: a WAL snapshot, no write lock, so
    # reads never queue behind writers (nor writers behind reads).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only: on SQLite their transactions take no write lock (a deferred BEGIN).

    Nothing stops a write through one, but on SQLite a write in a deferred transaction can fail with
    "database is locked" when another writer got in first: write through :func:`make_session_factory`.
    """
    return sessionmaker(bind=engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False)
