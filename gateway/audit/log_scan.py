"""Reading the whole disclosure log fast, for ``audit verify``: raw DB-API cursors, no SQLAlchemy rows.

Verification reads every row; at hundreds of thousands of rows a second any per-row layer (ORM
objects, SQLAlchemy result rows, a generator step per row) costs more than the checks themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

# The columns verification needs, in the order of :class:`gateway.audit.verify.StoredRow`.
COLUMNS = (
    "seq, disclosure_id, event, client_id, agency_code, purpose, subject_key, outcome, created_at, entry, "
    "prev_hash, leaf_hash"
)


def row_batches(session: Session, start: int = 0, batch: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
    """Every row from ``start`` in ``seq`` order, as the driver returns them, ``batch`` rows at a time.

    On PostgreSQL a server-side (named) cursor streams them; SQLite's cursor steps lazily. Each batch
    is one ``fetchmany``: the driver builds the whole list in one call. ``created_at`` is what the
    driver gives: a ``datetime`` (PostgreSQL) or SQLAlchemy's stored text (SQLite); compare instants
    with :func:`stored_instant`.
    """
    dbapi: Any = session.connection().connection.dbapi_connection
    query = f"SELECT {COLUMNS} FROM disclosure_log WHERE seq >= {int(start)} ORDER BY seq"  # noqa: S608 (an int)
    if session.get_bind().dialect.name == "postgresql":
        cursor = dbapi.cursor(name=f"ldg_stream_{uuid.uuid4().hex[:12]}")
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(query)
        while rows := cursor.fetchmany(batch):
            yield rows
    finally:
        cursor.close()


def tree_nodes_in(session: Session, ranges: list[tuple[int, int, int]]) -> dict[tuple[int, int], str]:
    """The stored interior subtrees ``(level, idx) -> hex hash`` for each ``(level, lo, hi)`` range, in one query."""
    where = " OR ".join(f"(level = {int(level)} AND idx BETWEEN {int(lo)} AND {int(hi)})" for level, lo, hi in ranges)
    cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"SELECT level, idx, hash FROM log_tree_nodes WHERE {where}")  # noqa: S608 (ints)
        return {(level, idx): h for level, idx, h in cursor.fetchall()}
    finally:
        cursor.close()


def stored_instant(value: datetime | str) -> datetime:
    """A ``created_at`` column as read by :func:`row_batches`, as a ``datetime`` (naive on SQLite)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
