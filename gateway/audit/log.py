"""Appending to and reading the disclosure log (the I/O side).

Appends serialise: on PostgreSQL a transaction-scoped row lock on ``log_head`` (``SELECT ... FOR
UPDATE``), on SQLite the database write lock every transaction takes at ``BEGIN IMMEDIATE``. Either way
the lock is held until the caller's transaction commits, so the order of ``seq`` is the commit order
and two processes can never read the same head. The append joins the caller's transaction: the entry
and the response it describes commit together or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit.entry import GENESIS_HASH, Appended, LogEntry, NewEntry, canonical_bytes, new_disclosure_id
from gateway.audit.rfc9162 import compact_append, leaf_hash
from gateway.audit.verify import StoredRow
from gateway.db.models import DisclosureLogEntry, LogHead, LogTreeNode


class LogUnavailable(RuntimeError):
    """The log head is missing: the database was not initialised (or was tampered with)."""


def append(tx: Session, new: NewEntry) -> Appended:
    """Append one entry in the transaction ``tx``; ``seq`` and ``prev_hash`` are assigned here under the
    log lock, which ``tx`` holds until it ends."""
    # populate_existing: a LogHead this session read earlier must not stand in for the locked row.
    locked = select(LogHead).where(LogHead.id == 1).with_for_update().execution_options(populate_existing=True)
    head = tx.execute(locked).scalar_one_or_none()
    if head is None:
        raise LogUnavailable("disclosure log head is missing; run `ld-gateway init`")
    entry = LogEntry.of(new, seq=head.size, prev_hash=head.head_hash)
    data = entry.to_json()
    raw = canonical_bytes(data)
    digest = leaf_hash(raw).hex()
    row = DisclosureLogEntry(
        seq=entry.seq,
        disclosure_id=entry.disclosure_id,
        event=entry.event,
        created_at=entry.created_at,
        client_id=entry.client_id,
        agency_code=entry.agency_code,
        purpose=entry.purpose,
        subject_key=entry.subject_key,
        outcome=entry.outcome,
        entry=raw.decode("utf-8"),
        prev_hash=entry.prev_hash,
        leaf_hash=digest,
    )
    tx.add(row)
    # The Merkle tree grows under the same lock: the new leaf completes at most log2(n) subtrees.
    compact, created = compact_append(decode_compact(head.compact_range), entry.seq, bytes.fromhex(digest))
    tx.add_all(LogTreeNode(level=level, idx=index, hash=h.hex()) for level, index, h in created)
    head.compact_range = encode_compact(compact)
    head.size = entry.seq + 1
    head.head_hash = digest
    tx.flush()
    return Appended(entry=entry, leaf_hash=digest)


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
