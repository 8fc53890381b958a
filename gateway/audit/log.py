"""Appending to and reading the disclosure log (the I/O side).

Appends serialise: on PostgreSQL a transaction-scoped row lock on ``log_head`` (``SELECT ... FOR
UPDATE``, or the conditional ``UPDATE`` below), on SQLite the database write lock every write
transaction takes at ``BEGIN IMMEDIATE``. Either way the lock is held until the caller's transaction
commits, so the order of ``seq`` is the commit order and two processes can never read the same head.

Each process remembers the head its last append wrote. The next append builds its entry on that head
and moves the head with ``UPDATE ... WHERE size = :remembered AND head_hash = :remembered``: that one
statement takes the lock and proves nobody moved the head in between (another process, or a
transaction of ours that rolled back). When it matches no row, nothing was written, and the head is
read under the lock as it always was. So an append is two statements (on SQLite three when the leaf
completes a subtree), whatever the number of processes, and never builds on a head that is not the current one.

The append joins the caller's transaction: the entry and the response it describes commit together
or not at all.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from gateway.audit import reasons
from gateway.audit.entry import GENESIS_HASH, Appended, LogEntry, NewEntry, canonical_bytes, new_disclosure_id
from gateway.audit.rfc9162 import compact_append, leaf_hash
from gateway.audit.verify import StoredRow
from gateway.db.models import DisclosureLogEntry, LogHead, LogTreeNode


class LogUnavailable(RuntimeError):
    """The log head is missing: the database was not initialised (or was tampered with)."""


def append(tx: Session, new: NewEntry) -> Appended:
    """Append one entry in the transaction ``tx``; ``seq`` and ``prev_hash`` are assigned here under the
    log lock, which ``tx`` holds until it ends."""
    # Only the closed vocabulary of gateway.audit.reasons is ever stored as a reason: nothing a caller
    # sent (a header, a kid, a parameter quoted in an error text) can reach the log this way.
    new = dataclasses.replace(new, reason=reasons.closed(new.reason, str(new.event)))
    # Core statements built once with bound parameters, on the transaction's connection: the log is the
    # hottest write, and building or ORM-processing a statement per append cost more than running it.
    conn = tx.connection()
    bind = tx.get_bind()
    head = _HEADS.get(bind)
    built = None
    if head is not None:
        # The head as this process last wrote it: one conditional UPDATE both takes the lock and checks
        # that no other process (or a rolled-back transaction of ours) has moved it since. If it has,
        # nothing was written and the head is read under the lock as usual.
        built = _next(head, new)
        if conn.execute(_MOVE_HEAD_FROM, _head_params(built[2], head)).rowcount != 1:
            built = None
    if built is None:
        found = conn.execute(_LOCK_HEAD).one_or_none()
        if found is None:
            raise LogUnavailable("disclosure log head is missing; run `ld-gateway init`")
        built = _next((found[0], found[1], found[2]), new)
        conn.execute(_MOVE_HEAD, _head_params(built[2]))
    entry, row, new_head, created = built
    nodes = [{"level": lv, "idx": ix, "hash": h.hex()} for lv, ix, h in created]
    if nodes and bind.dialect.name == "postgresql":
        # One statement on PostgreSQL: the completed subtrees go in as a data-modifying CTE of the
        # entry's INSERT (executed once and to completion, whether or not the INSERT reads it).
        params = {f"entry_{key}": value for key, value in row.items()}
        for i, node in enumerate(nodes):
            params.update(
                {f"node_level_{i}": node["level"], f"node_idx_{i}": node["idx"], f"node_hash_{i}": node["hash"]}
            )
        conn.execute(_insert_with_nodes(len(nodes)), params)
    else:
        conn.execute(_INSERT_ENTRY, row)
        if nodes:
            conn.execute(_INSERT_NODE, nodes)
    # A LogHead this session loaded before must not stand in for the row just written.
    for held in [o for o in tx.identity_map.values() if isinstance(o, LogHead)]:
        tx.expire(held)
    _HEADS[bind] = new_head
    return Appended(entry=entry, leaf_hash=new_head[1])


_HEAD = LogHead.__table__
_ENTRIES = DisclosureLogEntry.__table__
_NODES = LogTreeNode.__table__
_LOCK_HEAD = select(_HEAD.c.size, _HEAD.c.head_hash, _HEAD.c.compact_range).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(size=bindparam("new_size"), head_hash=bindparam("new_hash"), compact_range=bindparam("new_compact"))
)
_MOVE_HEAD_FROM = _MOVE_HEAD.where(_HEAD.c.size == bindparam("old_size"), _HEAD.c.head_hash == bindparam("old_hash"))
_INSERT_ENTRY = insert(_ENTRIES)
_INSERT_NODE = insert(_NODES)
_WITH_NODES: dict[int, Any] = {}


def _insert_with_nodes(count: int) -> Any:
    statement = _WITH_NODES.get(count)
    if statement is None:
        rows = [
            {
                "level": bindparam(f"node_level_{i}"),
                "idx": bindparam(f"node_idx_{i}"),
                "hash": bindparam(f"node_hash_{i}"),
            }
            for i in range(count)
        ]
        completed = insert(_NODES).values(rows).cte(f"completed_subtrees_{count}")
        columns = {c.key: bindparam(f"entry_{c.key}") for c in _ENTRIES.columns}
        statement = _WITH_NODES[count] = insert(_ENTRIES).values(columns).add_cte(completed)
    return statement


def _head_params(new: tuple[int, str, str | None], old: tuple[int, str, str | None] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"new_size": new[0], "new_hash": new[1], "new_compact": new[2]}
    if old is not None:
        params.update(old_size=old[0], old_hash=old[1])
    return params


# The last head each engine's appends wrote in this process: (size, head hash, compact range).
_HEADS: WeakKeyDictionary[Any, tuple[int, str, str | None]] = WeakKeyDictionary()


def _next(
    head: tuple[int, str, str | None], new: NewEntry
) -> tuple[LogEntry, dict[str, Any], tuple[int, str, str | None], list[tuple[int, int, bytes]]]:
    """The entry at ``head``, its row's columns, the head after it, and the subtrees it completes (pure)."""
    size, head_hash, compact_range = head
    entry = LogEntry.of(new, seq=size, prev_hash=head_hash)
    raw = canonical_bytes(entry.to_json())
    digest = leaf_hash(raw)
    row = {
        "seq": entry.seq,
        "disclosure_id": entry.disclosure_id,
        "event": entry.event,
        "created_at": entry.created_at,
        "client_id": entry.client_id,
        "agency_code": entry.agency_code,
        "purpose": entry.purpose,
        "subject_key": entry.subject_key,
        "outcome": entry.outcome,
        "entry": raw.decode("utf-8"),
        "prev_hash": entry.prev_hash,
        "leaf_hash": digest.hex(),
    }
    # The Merkle tree grows under the same lock: the new leaf completes at most log2(n) subtrees.
    compact, created = compact_append(decode_compact(compact_range), entry.seq, digest)
    return entry, row, (size + 1, digest.hex(), encode_compact(compact)), created


def iter_rows(session: Session, batch: int = 5000, start: int = 0) -> Iterator[StoredRow]:
    """Every stored row from ``start`` in ``seq`` order, streamed in batches (keyset pagination).

    Plain column tuples, not ORM objects: verification reads every row, and object loading would
    dominate its cost.
    """
    t = DisclosureLogEntry
    columns = (
        t.seq,
        t.disclosure_id,
        t.event,
        t.client_id,
        t.agency_code,
        t.purpose,
        t.subject_key,
        t.outcome,
        t.created_at,
        t.entry,
        t.prev_hash,
        t.leaf_hash,
    )
    last = start - 1
    while True:
        query = select(*columns).where(t.seq > last).order_by(t.seq).limit(batch)
        rows = session.execute(query).all()
        if not rows:
            return
        for row in rows:
            yield StoredRow(*tuple(row))
        last = rows[-1][0]


# The columns verification needs, in the order of :class:`StoredRow`.
_VERIFY_COLUMNS = (
    "seq, disclosure_id, event, client_id, agency_code, purpose, subject_key, outcome, created_at, entry, "
    "prev_hash, leaf_hash"
)


def stream_raw(session: Session, start: int = 0, batch: int = 20000) -> Iterator[tuple[Any, ...]]:
    """Every row from ``start`` in ``seq`` order as the driver returns it (the columns of :class:`StoredRow`).

    Straight through the DB-API cursor, no SQLAlchemy row processing: ``audit verify`` reads every row,
    and at hundreds of thousands of rows a second any per-row layer costs more than the checks. On
    PostgreSQL a server-side (named) cursor streams in batches; SQLite's cursor already steps lazily.
    ``created_at`` is what the driver gives: a ``datetime`` (PostgreSQL) or SQLAlchemy's stored text
    (SQLite); callers compare instants with :func:`stored_instant`.
    """
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    query = f"SELECT {_VERIFY_COLUMNS} FROM disclosure_log WHERE seq >= {int(start)} ORDER BY seq"  # noqa: S608 (an int)
    if session.get_bind().dialect.name == "postgresql":
        cursor = dbapi.cursor(name=f"ldg_stream_{uuid.uuid4().hex[:12]}")
        cursor.itersize = batch
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(query)
        yield from cursor
    finally:
        cursor.close()


def tree_nodes_in(session: Session, ranges: list[tuple[int, int, int]]) -> dict[tuple[int, int], str]:
    """The stored interior subtrees ``(level, idx) -> hex hash`` for each ``(level, lo, hi)`` range, in one query."""
    where = " OR ".join(f"(level = {int(level)} AND idx BETWEEN {int(lo)} AND {int(hi)})" for level, lo, hi in ranges)
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"SELECT level, idx, hash FROM log_tree_nodes WHERE {where}")  # noqa: S608 (ints)
        return {(level, idx): h for level, idx, h in cursor}
    finally:
        cursor.close()


def stored_instant(value: datetime | str) -> datetime:
    """A ``created_at`` column as read by :func:`stream_raw`, as a ``datetime`` (naive on SQLite)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def decode_compact(value: str | None) -> list[bytes]:
    return [bytes.fromhex(h) for h in value.split(",")] if value else []


def encode_compact(hashes: list[bytes]) -> str | None:
    return ",".join(h.hex() for h in hashes) or None


def read_head(session: Session) -> tuple[int, str] | None:
    head = session.get(LogHead, 1)
    return None if head is None else (head.size, head.head_hash)


__all__ = [
    "GENESIS_HASH",
    "Appended",
    "LogUnavailable",
    "NewEntry",
    "append",
    "iter_rows",
    "new_disclosure_id",
    "read_head",
    "stored_instant",
    "stream_raw",
    "tree_nodes_in",
]
