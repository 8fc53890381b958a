"""The authorization server's shared state in the database, so that every gateway process agrees.

- :class:`DatabaseReplayCache`: the :class:`~gateway.auth.rfc7523.ReplayCache` of client assertion
  and DPoP proof ``jti`` values (RFC 7523 section 3 item 7, RFC 9449 section 11.1). The row's primary
  key makes the claim atomic: of two processes inserting the same one, the database lets one win.
- :class:`DatabaseRevocations`: revoked access tokens (RFC 7009) and revoked clients. Checks read a
  per-process snapshot no older than ``max_age`` seconds (1 s by default), so a revocation made by
  any process, or by ``ld-gateway client revoke``, takes effect everywhere within that time without a
  database read on every request.
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from gateway.db import unit_of_work
from gateway.db.models import Client, RevokedToken, SeenJti

#: Expired rows are deleted at most this often per process (and only by the process that claims).
PURGE_INTERVAL = 60.0
#: The longest a revocation may take to reach every process (the issue's bound).
REVOCATION_MAX_AGE = 1.0


def _insert_ignoring_conflict(session: Session, model: Any, values: dict[str, Any], key: str) -> int:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING key: 1 when this call inserted the row, else 0.

    (RETURNING rather than rowcount: psycopg reports -1 for a statement with ON CONFLICT.)
    """
    statement = _insert_ignoring(session.get_bind().dialect.name, model, tuple(values), key)
    params = {f"value_{name}": value for name, value in values.items()}
    return 0 if session.connection().execute(statement, params).first() is None else 1


@functools.cache
def _insert_ignoring(dialect: str, model: Any, columns: tuple[str, ...], key: str) -> Any:
    # Built once per shape (a DPoP claim is on every pull): bound parameters, not values baked in.
    table = model.__table__
    values: dict[str, Any] = {c: bindparam(f"value_{c}") for c in columns}
    # The two dialects' INSERT ... ON CONFLICT DO NOTHING are spelled alike but are different classes.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).values(values).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).values(values).on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])


def jti_hash(namespace: str, jti: str) -> str:
    """The stored key of ``jti`` within ``namespace`` (length-prefixed, so no two pairs collide)."""
    data = f"{len(namespace)}:{namespace}{jti}".encode()
    return hashlib.sha256(data).hexdigest()


class DatabaseReplayCache:
    """A :class:`~gateway.auth.rfc7523.ReplayCache` shared by every process on one database."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], float] = time.time) -> None:
        self._sessions = sessions
        self._clock = clock
        self._next_purge = 0.0
        self._lock = threading.Lock()

    def claim(self, client_id: str, jti: str, expires_at: float) -> bool:
        won = unit_of_work.run(self._sessions, lambda tx: self.claim_in(tx, client_id, jti, expires_at))
        self.purge_if_due()
        return won

    def claim_in(self, session: Session, client_id: str, jti: str, expires_at: float) -> bool:
        """:meth:`claim` inside the caller's transaction: the claim commits (or rolls back) with its work."""
        now = self._clock()
        key = jti_hash(client_id, jti)
        until = math.ceil(expires_at)
        if _insert_ignoring_conflict(session, SeenJti, {"jti_hash": key, "expires_at": until}, "jti_hash"):
            won = True
        else:
            # Seen before: a replay, unless that claim has expired (its row not yet purged). Taking
            # an expired row over is one UPDATE with the expiry in its WHERE, so it is atomic too.
            taken = session.execute(
                update(SeenJti)
                .where(SeenJti.jti_hash == key, SeenJti.expires_at <= math.floor(now))
                .values(expires_at=until)
            )
            won = taken.rowcount == 1  # type: ignore[attr-defined]
        return won

    def purge_if_due(self) -> None:
        """Delete expired claims, at most once per interval; call it outside any write transaction."""
        now = self._clock()
        with self._lock:
            if now < self._next_purge:
                return
            self._next_purge = now + PURGE_INTERVAL
        unit_of_work.run(
            self._sessions, lambda tx: tx.execute(delete(SeenJti).where(SeenJti.expires_at < math.floor(now)))
        )


@dataclass(frozen=True)
class _Snapshot:
    loaded_at: float
    revoked_tokens: frozenset[str] = field(default_factory=frozenset)
    active_clients: frozenset[str] = field(default_factory=frozenset)
    revoked_clients: frozenset[str] = field(default_factory=frozenset)


class DatabaseRevocations:
    """Revoked access tokens and clients, from the database, cached per process for ``max_age`` s.

    A snapshot is taken by queries that start at ``loaded_at`` and is used until ``loaded_at +
    max_age``: whatever was committed before a check's time minus ``max_age`` is seen by it. A client
    missing from the snapshot (registered since) is looked up directly.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        max_age: float = REVOCATION_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._max_age = max_age
        self._clock = clock
        self._wall = wall_clock
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()

    def revoke(self, jti: str, expires_at: float, client_id: str = "") -> None:
        """Record the token ``jti`` as revoked until ``expires_at`` (its ``exp``). Idempotent."""
        if expires_at <= self._wall():
            return
        values = {
            "jti": jti,
            "client_id": client_id,
            "expires_at": math.ceil(expires_at),
            "revoked_at": datetime.now(UTC),
        }

        def work(tx: Session) -> None:
            _insert_ignoring_conflict(tx, RevokedToken, values, "jti")
            tx.execute(delete(RevokedToken).where(RevokedToken.expires_at < math.floor(self._wall())))

        unit_of_work.run(self._sessions, work)
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None:  # this process sees its own revocation at once
                self._snapshot = _Snapshot(
                    snapshot.loaded_at,
                    snapshot.revoked_tokens | {jti},
                    snapshot.active_clients,
                    snapshot.revoked_clients,
                )

    def client_revoked(self, client_id: str) -> None:
        """Tell this process that ``client_id`` was revoked (committed already): its live tokens stop here at
        once, rather than at the next reload. Other processes see it within ``max_age``."""
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None:
                self._snapshot = _Snapshot(
                    snapshot.loaded_at,
                    snapshot.revoked_tokens,
                    snapshot.active_clients - {client_id},
                    snapshot.revoked_clients | {client_id},
                )

    def is_revoked(self, jti: str) -> bool:
        return jti in self._current().revoked_tokens

    def is_client_active(self, client_id: str) -> bool:
        snapshot = self._current()
        if client_id in snapshot.revoked_clients:
            return False
        if client_id in snapshot.active_clients:
            return True
        row = unit_of_work.read(
            self._sessions,
            lambda tx: tx.execute(select(Client.revoked_at).where(Client.client_id == client_id)).one_or_none(),
        )
        return row is not None and row[0] is None

    def _current(self) -> _Snapshot:
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and self._clock() - snapshot.loaded_at < self._max_age:
                return snapshot
            # Reloading under the lock: one query pair per process per max_age, however busy.
            loaded_at = self._clock()
            wall = math.floor(self._wall())

            def load(tx: Session) -> tuple[frozenset[str], list[tuple[str, datetime | None]]]:
                tokens = tx.execute(select(RevokedToken.jti).where(RevokedToken.expires_at > wall)).scalars()
                clients = tx.execute(select(Client.client_id, Client.revoked_at)).all()
                return frozenset(tokens), [(client_id, revoked_at) for client_id, revoked_at in clients]

            # A read: on SQLite it neither waits for nor holds the write lock that every pull takes.
            revoked_tokens, clients = unit_of_work.read(self._sessions, load)
            self._snapshot = _Snapshot(
                loaded_at,
                revoked_tokens,
                frozenset(c for c, revoked in clients if revoked is None),
                frozenset(c for c, revoked in clients if revoked is not None),
            )
            return self._snapshot
