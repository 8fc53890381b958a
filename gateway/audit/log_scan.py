"""Reading the whole disclosure log fast, for ``audit verify``: raw DB-API cursors, no SQLAlchemy rows.

Verification reads every row; at hundreds of thousands of rows a second any per-row layer (ORM
objects, SQLAlchemy result rows, a generator step per row, a str decoded only to be encoded again)
costs more than the checks themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

# The columns verification needs, in the order of :class:`gateway.audit.verify.StoredRow`; ``{entry}``
# is the entry's stored UTF-8 bytes (what the leaf hash covers), read as bytes so that they are hashed
# and parsed as they are, never decoded into a str and encoded back.
COLUMNS = (
    "seq, disclosure_id, event, client_id, agency_code, purpose, subject_key, outcome, created_at, {entry}, "
    "prev_hash, leaf_hash"
)


def row_batches(session: Session, start: int = 0, batch: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
    """Every row from ``start`` in ``seq`` order, ``batch`` rows at a time, as the driver returns them
    but for ``entry``, which is its UTF-8 bytes.

    On PostgreSQL a server-side (named) cursor streams them in the binary protocol (no text rendering
    of each value on the server, no parsing on the client); SQLite's cursor steps lazily. Each batch is
    one ``fetchmany``: the driver builds the whole list in one call. ``created_at`` is what the driver
    gives: a ``datetime`` (PostgreSQL) or SQLAlchemy's stored text (SQLite); compare instants with
    :func:`stored_instant`.
    """
    dbapi: Any = session.connection().connection.dbapi_connection
    postgres = session.get_bind().dialect.name == "postgresql"
    recode = False
    if postgres:
        entry = "convert_to(entry, 'UTF8')"  # the text's UTF-8 bytes, as str.encode() would give them
        cursor = dbapi.cursor(name=f"ldg_stream_{uuid.uuid4().hex[:12]}", binary=True)
    else:
        # SQLite hands a TEXT value's stored bytes over as they are when cast to a BLOB: its UTF-8
        # bytes in a UTF-8 database (every database the gateway makes). Any other encoding is read as
        # text and encoded here.
        recode = dbapi.execute("PRAGMA encoding").fetchone()[0] != "UTF-8"
        entry = "entry" if recode else "CAST(entry AS BLOB)"
        cursor = dbapi.cursor()
    query = f"SELECT {COLUMNS.format(entry=entry)} FROM disclosure_log WHERE seq >= {int(start)} ORDER BY seq"  # noqa: S608 (an int)
    try:
        cursor.execute(query)
        while rows := cursor.fetchmany(batch):
            if recode:
                rows = [(*row[:9], None if row[9] is None else row[9].encode(), *row[10:]) for row in rows]
            yield rows
    finally:
        cursor.close()


def _nodes_where(ranges: list[tuple[int, int, int]]) -> str:
    return " OR ".join(f"(level = {int(level)} AND idx BETWEEN {int(lo)} AND {int(hi)})" for level, lo, hi in ranges)


def tree_levels(session: Session, ranges: list[tuple[int, int, int]]) -> list[tuple[Any, ...]]:
    """For each level of the ``(level, lo, hi)`` ranges, in level order: ``(level, indices, hashes)``, the
    stored interior subtrees' indices and hex hashes each joined by commas in one aggregate pass (a NULL
    hash as an empty item), so that a batch's few thousand subtrees come back as a few strings.

    Both lists come from the same rows in the same order, whatever order the database aggregates in."""
    join = "string_agg({}, ',')" if session.get_bind().dialect.name == "postgresql" else "group_concat({}, ',')"
    indices, hashes = join.format("CAST(idx AS TEXT)"), join.format("coalesce(hash, '')")
    cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(
            f"SELECT level, {indices}, {hashes} FROM log_tree_nodes WHERE {_nodes_where(ranges)} "  # noqa: S608 (ints)
            "GROUP BY level ORDER BY level"
        )
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def tree_nodes_in(session: Session, ranges: list[tuple[int, int, int]]) -> dict[tuple[int, int], str]:
    """The stored interior subtrees ``(level, idx) -> hex hash`` for each ``(level, lo, hi)`` range, in one query."""
    cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"SELECT level, idx, hash FROM log_tree_nodes WHERE {_nodes_where(ranges)}")  # noqa: S608 (ints)
        return {(level, idx): h for level, idx, h in cursor.fetchall()}
    finally:
        cursor.close()


def stored_instant(value: datetime | str) -> datetime:
    """A ``created_at`` column as read by :func:`row_batches`, as a ``datetime`` (naive on SQLite)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
