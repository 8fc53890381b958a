"""One way to run a use case: the unit of work owns the transaction.

- :func:`run`: ``work(tx)`` in one write transaction, committed when it returns and rolled back when it
  raises; nothing outside ``work`` opens, commits or rolls back.
- :func:`read`: ``work(tx)`` in one read-only transaction, always rolled back. On SQLite it starts a
  deferred ``BEGIN`` (a WAL snapshot) rather than the ``BEGIN IMMEDIATE`` of a write
  (:mod:`gateway.db.engine`), so a read neither waits for the write lock nor holds it while it runs (a
  whole-log verification, a revocation reload): writers and readers never queue behind each other.
  ``snapshot=True`` makes every statement of the read see the same database on PostgreSQL too
  (``REPEATABLE READ``; SQLite's deferred transaction is one snapshot already): a verification of the
  whole log while it grows.
- :func:`run_or_refuse`: the same, and when ``work`` raises one of the use case's *refusals* (a domain
  error, not a fault) the transaction is rolled back first (a refused call leaves no partial write) and
  then ``on_refusal(tx, refusal)`` runs in its own short transaction: that is where the caller logs the
  refusal with :func:`gateway.audit.log.append` and returns its answer (a ``Denied(reason)`` value).
  Logging after the rollback is why the refusal is on record even though nothing else of the call is.
  ``on_refusal`` returns rather than raises: what it raises rolls its own entry back too, so a caller
  that answers a refusal with an exception raises it after :func:`run_or_refuse` returns (as publishing
  does). Any other exception is not a refusal: it rolls back and propagates, and nothing is written.
- :func:`refusing`: :func:`run_or_refuse` for a ``with`` block whose refusals are answers raised to the
  caller (the IG pages' :class:`~gateway.ig.context.PageRefused`): the same rollback, the same
  ``on_refusal`` in its own transaction, and then the refusal propagates.

This module sits in the storage layer, below the log, so it takes the logging as a callback rather than
importing ``gateway.audit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from gateway.db.engine import READ_ONLY

T = TypeVar("T")
_READ_ONLY_OPTIONS: Mapping[str, Any] = {READ_ONLY: True}
# On PostgreSQL a read unit is a READ ONLY transaction: a write put in one by mistake (a log entry, say)
# raises instead of being rolled back unseen when the unit ends.
_PG_READ_OPTIONS: Mapping[str, Any] = {READ_ONLY: True, "postgresql_readonly": True}
_PG_SNAPSHOT_OPTIONS: Mapping[str, Any] = {**_PG_READ_OPTIONS, "isolation_level": "REPEATABLE READ"}
R = TypeVar("R")
E = TypeVar("E", bound=BaseException)


def run(sessions: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """``work`` in one write transaction: committed on return, rolled back on any exception."""
    with sessions.begin() as tx:
        return work(tx)


def read(sessions: sessionmaker[Session], work: Callable[[Session], T], *, snapshot: bool = False) -> T:
    """``work`` in one read-only transaction, rolled back when it ends. It may not write: on PostgreSQL a
    write raises (a READ ONLY transaction); on SQLite it can fail with "database is locked" when another
    writer got in first, and is rolled back in any case. ``snapshot``: one
    view of the database for every statement, on PostgreSQL as on SQLite."""
    with sessions() as tx:  # closing rolls back, and leaves what ``work`` loaded readable (not expired)
        # Marks the connection before the transaction begins: the engine's "begin" hook reads it.
        if tx.get_bind().dialect.name == "postgresql":
            tx.connection(execution_options=_PG_SNAPSHOT_OPTIONS if snapshot else _PG_READ_OPTIONS)
        else:
            tx.connection(execution_options=_READ_ONLY_OPTIONS)
        return work(tx)


def run_or_refuse(
    sessions: sessionmaker[Session],
    work: Callable[[Session], T],
    refusal: type[E],
    on_refusal: Callable[[Session, E], R],
) -> T | R:
    """``work`` as in :func:`run`; a ``refusal`` it raises is rolled back, then handed to ``on_refusal``
    in a transaction of its own, which logs it and returns the answer."""
    try:
        with sessions.begin() as tx:
            return work(tx)
    except refusal as refused:
        return _answer(sessions, refused, on_refusal)


@contextmanager
def refusing(
    sessions: sessionmaker[Session], refusal: type[E], on_refusal: Callable[[Session, E], object]
) -> Iterator[Session]:
    """The block's work as in :func:`run`; a ``refusal`` it raises is rolled back, handed to ``on_refusal``
    in a transaction of its own, and raised on."""
    try:
        with sessions.begin() as tx:
            yield tx
    except refusal as refused:
        _answer(sessions, refused, on_refusal)
        raise


def _answer(sessions: sessionmaker[Session], refused: E, on_refusal: Callable[[Session, E], R]) -> R:
    # The work's transaction is already rolled back here: the refusal's entry is the only write.
    with sessions.begin() as tx:
        return on_refusal(tx, refused)
