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

Inside :func:`batch` (the log writer's group commit) appends are computed in memory, chained one on
the other, and written when the block ends: the head moves once, the entries and the subtrees they
complete go in as one multi-row statement each. Moving one row a hundred times in a transaction is
what made a batch slow (on PostgreSQL every update of a row adds a version the next one must step
over); the entries are the same bytes either way.

The append joins the caller's transaction: the entry and the response it describes commit together
or not at all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, cast
from weakref import WeakKeyDictionary

from sqlalchemy import Table, bindparam, event, insert, select, update
from sqlalchemy.orm import Session

from gateway.audit import reasons
from gateway.audit.entry import GENESIS_HASH, Appended, LogEntry, NewEntry, new_disclosure_id
from gateway.audit.rfc9162 import compact_append, leaf_hash, node_hash
from gateway.audit.verify import StoredRow
from gateway.db.models import DisclosureLogEntry, LogHead, LogTreeNode
from gateway.json_bytes import canonical_json


class LogUnavailable(RuntimeError):
    """The log head is missing: the database was not initialised (or was tampered with)."""


class HeadMoved(RuntimeError):
    """A batch built on the head this process remembered, and another writer had moved it: nothing of
    the batch was written. Run its work again in a new transaction (the head is then read under the lock)."""


Head = tuple[int, str, str | None]  # (size, head hash, compact range) as log_head stores them


def append(tx: Session, new: NewEntry) -> Appended:
    """Append one entry in the transaction ``tx``; ``seq`` and ``prev_hash`` are assigned here under the
    log lock, which ``tx`` holds until it ends (in a :func:`batch`, when the batch is written)."""
    # Only the closed vocabulary of gateway.audit.reasons is ever stored as a reason: nothing a caller
    # sent (a header, a kid, a parameter quoted in an error text) can reach the log this way.
    reason = reasons.closed(new.reason, str(new.event))
    if reason != new.reason:
        new = dataclasses.replace(new, reason=reason)
    pending = tx.info.get(_BATCH)
    if isinstance(pending, _Batch):
        return pending.add(tx, new)
    # Core statements built once with bound parameters, on the transaction's connection: the log is the
    # hottest write, and building or ORM-processing a statement per append cost more than running it.
    conn = tx.connection()
    bind = tx.get_bind()
    head = _remembered(tx, bind)
    built = None
    if head is not None:
        # The head as this process last wrote it: one conditional UPDATE both takes the lock and checks
        # that no other process (or a rolled-back transaction of ours) has moved it since. If it has,
        # nothing was written and the head is read under the lock as usual.
        built = _next(head, new)
        if conn.execute(_MOVE_HEAD_FROM, _head_params(built[2], head)).rowcount != 1:
            built = None
    if built is None:
        built = _next(_lock_head(conn), new)
        conn.execute(_MOVE_HEAD, _head_params(built[2]))
    entry, row, new_head, created = built
    _insert(conn, bind, [row], [{"level": lv, "idx": ix, "hash": h.hex()} for lv, ix, h in created])
    _expire_loaded_head(tx)
    _written(tx, bind, new_head)
    return Appended(entry=entry, leaf_hash=new_head[1])


@contextmanager
def batch(tx: Session, *, optimistic: bool = False) -> Iterator[None]:
    """Group the appends made in ``tx`` inside the block: chained in memory, written when it ends.

    Each :func:`append` returns its final :class:`Appended` at once (its position and leaf hash are
    computed on the batch's head). On leaving the block the head moves once and the entries and
    completed subtrees are inserted, in ``tx``, which commits them all or none.

    The head comes from the first append: read under the lock, or with ``optimistic`` the head this
    process last wrote, checked only when the batch is written (no statement before then). If another
    writer moved it meanwhile, :class:`HeadMoved` is raised, nothing of the batch is written, and the
    caller must roll back and run its work again (the log writer does); the next few batches then
    lock first.
    """
    state = _Batch(optimistic)
    tx.info[_BATCH] = state
    try:
        yield
    finally:
        tx.info.pop(_BATCH, None)
    state.write(tx)


_BATCH = "ldg_log_batch"
# After a remembered head proved stale (another process writes too), this many batches read the head
# under the lock first rather than build on a guess and risk doing their work twice.
_LOCK_FIRST_AFTER_MOVE = 64


class _Batch:
    def __init__(self, optimistic: bool) -> None:
        self.optimistic = optimistic
        self.start: Head | None = None  # the remembered head built on, when not read under the lock
        self.size = -1  # no head yet
        self.head_hash = ""
        self.compact: list[bytes] = []
        self.rows: list[dict[str, Any]] = []
        self.nodes: list[dict[str, Any]] = []

    def add(self, tx: Session, new: NewEntry) -> Appended:
        if self.size < 0:
            bind = tx.get_bind()
            head = _remembered(tx, bind) if self.optimistic and not _lock_first(bind) else None
            if head is None:
                head = _lock_head(tx.connection())
            else:
                self.start = head
            self.size, self.head_hash, self.compact = head[0], head[1], decode_compact(head[2])
        entry, raw = _entry(new, self.size, self.head_hash)
        digest = leaf_hash(raw)
        leaf = digest.hex()
        self.rows.append(_row(entry, raw, leaf))
        # The compact range grows as in rfc9162.compact_append: one interior hash per completed subtree.
        stack, current, level, index = self.compact, digest, 0, self.size
        while index & 1:
            current = node_hash(stack.pop(), current)
            level, index = level + 1, index >> 1
            self.nodes.append({"level": level, "idx": index, "hash": current.hex()})
        stack.append(current)
        self.size += 1
        self.head_hash = leaf
        return Appended(entry=entry, leaf_hash=leaf)

    def write(self, tx: Session) -> None:
        if not self.rows:
            return
        conn = tx.connection()
        bind = tx.get_bind()
        head = (self.size, self.head_hash, encode_compact(self.compact))
        if self.start is not None:
            if conn.execute(_MOVE_HEAD_FROM, _head_params(head, self.start)).rowcount != 1:
                _HEADS.pop(bind, None)
                tx.info.pop(_WRITTEN, None)
                _LOCK_FIRST[bind] = _LOCK_FIRST_AFTER_MOVE
                raise HeadMoved("another writer moved the log head; nothing of this batch was written")
        else:
            conn.execute(_MOVE_HEAD, _head_params(head))
        _insert(conn, bind, self.rows, self.nodes)
        _expire_loaded_head(tx)
        _written(tx, bind, head)


def _lock_first(bind: Any) -> bool:
    left = _LOCK_FIRST.get(bind, 0)
    if left:
        _LOCK_FIRST[bind] = left - 1
    return left > 0


def _lock_head(conn: Any) -> Head:
    found = conn.execute(_LOCK_HEAD).one_or_none()
    if found is None:
        raise LogUnavailable("disclosure log head is missing; run `ld-gateway init`")
    return (found[0], found[1], found[2])


def _insert(conn: Any, bind: Any, rows: list[dict[str, Any]], nodes: list[dict[str, Any]]) -> None:
    if bind.dialect.name == "postgresql":
        # One statement on PostgreSQL, whatever the batch: every column as one array, unnested into
        # rows, and the completed subtrees the same way in a data-modifying CTE (executed once and to
        # completion, whether or not the INSERT reads it). A hundred single-row INSERTs cost the server
        # a hundred executions; this is one.
        params = {f"e_{key}": [row[key] for row in rows] for key in rows[0]}
        params.update({f"n_{key}": [node[key] for node in nodes] for key in ("level", "idx", "hash")})
        conn.exec_driver_sql(_unnest_insert(bind.dialect, tuple(rows[0])), params)
        return
    conn.execute(_INSERT_ENTRY, rows if len(rows) > 1 else rows[0])
    if nodes:
        conn.execute(_INSERT_NODE, nodes)


def _expire_loaded_head(tx: Session) -> None:
    # A LogHead this session loaded before must not stand in for the row just written.
    for held in [o for o in tx.identity_map.values() if isinstance(o, LogHead)]:
        tx.expire(held)


# The mapped classes' tables, typed as the Table they are (``__table__`` is declared as a FromClause).
_HEAD = cast(Table, LogHead.__table__)
_ENTRIES = cast(Table, DisclosureLogEntry.__table__)
_NODES = cast(Table, LogTreeNode.__table__)
_LOCK_HEAD = select(_HEAD.c.size, _HEAD.c.head_hash, _HEAD.c.compact_range).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(size=bindparam("new_size"), head_hash=bindparam("new_hash"), compact_range=bindparam("new_compact"))
)
_MOVE_HEAD_FROM = _MOVE_HEAD.where(_HEAD.c.size == bindparam("old_size"), _HEAD.c.head_hash == bindparam("old_hash"))
_INSERT_ENTRY = insert(_ENTRIES)
_INSERT_NODE = insert(_NODES)
_UNNEST: dict[tuple[str, ...], str] = {}


def _unnest_insert(dialect: Any, keys: tuple[str, ...]) -> str:
    """``INSERT ... SELECT FROM unnest(arrays)`` for entries with the columns ``keys``, and their subtrees."""
    statement = _UNNEST.get(keys)
    if statement is None:

        def arrays(table: Any, names: Iterable[str], prefix: str) -> str:
            # %(name)b: psycopg sends the array in binary, with no per-element quoting of the JSON text.
            return ", ".join(f"CAST(%({prefix}{n})b AS {table.c[n].type.compile(dialect=dialect)}[])" for n in names)

        # Names from the table metadata and _row's keys only, never from a caller.
        statement = _UNNEST[keys] = (
            f"WITH completed_subtrees AS (INSERT INTO {LogTreeNode.__tablename__} (level, idx, hash) "  # noqa: S608
            f"SELECT * FROM unnest({arrays(_NODES, ('level', 'idx', 'hash'), 'n_')})) "
            f"INSERT INTO {DisclosureLogEntry.__tablename__} ({', '.join(keys)}) "
            f"SELECT * FROM unnest({arrays(_ENTRIES, keys, 'e_')})"
        )
    return statement


def _head_params(new: Head, old: Head | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"new_size": new[0], "new_hash": new[1], "new_compact": new[2]}
    if old is not None:
        params.update(old_size=old[0], old_hash=old[1])
    return params


# The last head each engine's appends wrote *and committed* in this process, and how many batches are
# to lock first.
_HEADS: WeakKeyDictionary[Any, Head] = WeakKeyDictionary()
_LOCK_FIRST: WeakKeyDictionary[Any, int] = WeakKeyDictionary()
# The head a transaction's appends wrote, kept in its session's ``info`` until the transaction ends.
_WRITTEN = "ldg_log_head_written"


def _remembered(tx: Session, bind: Any) -> Head | None:
    """The head to build on: this transaction's own last append's, else the last committed one's."""
    written = tx.info.get(_WRITTEN)
    return written[1] if written is not None and written[0] is bind else _HEADS.get(bind)


def _written(tx: Session, bind: Any, head: Head) -> None:
    # Remembered for the process only once the transaction commits (below): a head whose commit failed
    # is nobody's head, and the next batch would build on it, be refused by the conditional UPDATE and
    # run all its work again, then lock first for the next _LOCK_FIRST_AFTER_MOVE batches.
    tx.info[_WRITTEN] = (bind, head)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    written = session.info.pop(_WRITTEN, None)
    if written is not None:
        bind, head = written
        known = _HEADS.get(bind)
        # Two transactions of this process can commit out of the order their hooks run in: keep the larger.
        if known is None or head[0] >= known[0]:
            _HEADS[bind] = head


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_WRITTEN, None)


def _entry(new: NewEntry, seq: int, prev_hash: str) -> tuple[LogEntry, bytes]:
    entry = LogEntry.of(new, seq=seq, prev_hash=prev_hash)
    return entry, canonical_json(entry.to_json())


def _row(entry: LogEntry, raw: bytes, leaf: str) -> dict[str, Any]:
    return {
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
        "leaf_hash": leaf,
    }


def _next(head: Head, new: NewEntry) -> tuple[LogEntry, dict[str, Any], Head, list[tuple[int, int, bytes]]]:
    """The entry at ``head``, its row's columns, the head after it, and the subtrees it completes (pure)."""
    size, head_hash, compact_range = head
    entry, raw = _entry(new, size, head_hash)
    digest = leaf_hash(raw)
    # The Merkle tree grows under the same lock: the new leaf completes at most log2(n) subtrees.
    compact, created = compact_append(decode_compact(compact_range), size, digest)
    return entry, _row(entry, raw, digest.hex()), (size + 1, digest.hex(), encode_compact(compact)), created


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
    "HeadMoved",
    "LogUnavailable",
    "NewEntry",
    "append",
    "batch",
    "iter_rows",
    "new_disclosure_id",
    "read_head",
]
