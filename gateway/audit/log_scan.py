"""Reading the whole disclosure log fast, for ``audit verify``: raw DB-API cursors, no SQLAlchemy rows.

Verification reads every row; at hundreds of thousands of rows a second any per-row layer (ORM
objects, SQLAlchemy result rows, a generator step per row, a str decoded only to be encoded again)
costs more than the checks themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

# The columns verification needs, in the order of :class:`gateway.audit.verify.StoredRow`; ``{entry}``
# is the entry's stored UTF-8 bytes (what the leaf hash covers), read as bytes so that they are hashed
# and parsed as they are, never decoded into a str and encoded back; ``{created_at}`` is the instant as
# each database can hand it over most cheaply (see :func:`stored_instant`).
COLUMNS = (
    "seq, disclosure_id, event, client_id, agency_code, purpose, subject_key, outcome, {created_at}, {entry}, "
    "prev_hash, leaf_hash"
)

# Rows a PostgreSQL server-side cursor fetches per round trip (one FETCH command to the server), or
# the caller's batch when that is larger. The caller's smaller batches (audit verify's chunks of
# verify_log.CHUNK rows, sized for the CPU's caches) are cut from it, so a small batch does not mean a
# round trip per few hundred rows. SQLite has no round trip: its cursor is asked for each batch as it is.
ROUND_TRIP = 5000


def row_batches(session: Session, start: int = 0, batch: int = 5000) -> Iterator[list[tuple[Any, ...]]]:
    """Every row from ``start`` in ``seq`` order, ``batch`` rows at a time, as the driver returns them
    but for ``entry``, which is its UTF-8 bytes.

    On PostgreSQL a server-side (named) cursor streams them in the binary protocol (no text rendering
    of each value on the server, no parsing on the client); SQLite's cursor steps lazily. Each batch is
    one ``fetchmany`` (on PostgreSQL, one round trip per :data:`ROUND_TRIP` rows at least, handed on in
    batches): the driver builds the whole list in one call. ``created_at`` is, on PostgreSQL,
    the instant as a naive ``datetime`` in UTC (``AT TIME ZONE 'UTC'``: no time zone object to build or
    consult per row), on SQLite SQLAlchemy's stored text; :func:`stored_instant` makes either what
    :func:`gateway.audit.verify.check_row` compares.
    """
    dbapi: Any = session.connection().connection.dbapi_connection
    postgres = session.get_bind().dialect.name == "postgresql"
    recode = False
    if postgres:
        entry = "convert_to(entry, 'UTF8')"  # the text's UTF-8 bytes, as str.encode() would give them
        created_at = "created_at AT TIME ZONE 'UTC'"
        cursor = dbapi.cursor(name=f"ldg_stream_{uuid.uuid4().hex[:12]}", binary=True)
    else:
        # SQLite hands a TEXT value's stored bytes over as they are when cast to a BLOB: its UTF-8
        # bytes in a UTF-8 database (every database the gateway makes). Any other encoding is read as
        # text and encoded here.
        recode = dbapi.execute("PRAGMA encoding").fetchone()[0] != "UTF-8"
        entry = "entry" if recode else "CAST(entry AS BLOB)"
        created_at = "created_at"
        cursor = dbapi.cursor()
    columns = COLUMNS.format(entry=entry, created_at=created_at)
    query = f"SELECT {columns} FROM disclosure_log WHERE seq >= {int(start)} ORDER BY seq"  # noqa: S608 (an int)
    # PostgreSQL: a round trip per ROUND_TRIP rows at least, handed on ``batch`` at a time.
    fetch = max(batch, ROUND_TRIP) if postgres else batch
    try:
        cursor.execute(query)
        while rows := cursor.fetchmany(fetch):
            if recode:
                rows = [(*row[:9], None if row[9] is None else row[9].encode(), *row[10:]) for row in rows]
            if len(rows) <= batch:
                yield rows
            else:
                for first in range(0, len(rows), batch):
                    yield rows[first : first + batch]
    finally:
        cursor.close()


def _nodes_where(ranges: list[tuple[int, int, int]]) -> str:
    return " OR ".join(f"(level = {int(level)} AND idx BETWEEN {int(lo)} AND {int(hi)})" for level, lo, hi in ranges)


def tree_levels(session: Session, ranges: list[tuple[int, int, int]]) -> list[tuple[Any, ...]]:
    """For each level of the ``(level, lo, hi)`` ranges, in level order: ``(level, indices, hashes)``, the
    stored interior subtrees' indices and hex hashes each joined by commas in index order (a NULL hash
    as an empty item), so that a batch's few thousand subtrees come back as a few strings.

    Both strings come from the same rows in the same order; were the database to aggregate in another
    order than asked, the indices would show it."""
    where = _nodes_where(ranges)
    if session.get_bind().dialect.name == "postgresql":
        query = (
            "SELECT level, string_agg(CAST(idx AS TEXT), ',' ORDER BY idx), "  # noqa: S608 (ints)
            f"string_agg(coalesce(hash, ''), ',' ORDER BY idx) FROM log_tree_nodes WHERE {where} "
            "GROUP BY level ORDER BY level"
        )
    else:
        # SQLite (before 3.44) has no ORDER BY inside an aggregate: each level is aggregated from its own
        # subquery, an index range scan in idx order that nothing sorts again.
        query = " UNION ALL ".join(
            f"SELECT {int(level)}, group_concat(idx, ','), group_concat(coalesce(hash, ''), ',') FROM "  # noqa: S608 (ints)
            f"(SELECT idx, hash FROM log_tree_nodes WHERE level = {int(level)} "
            f"AND idx BETWEEN {int(lo)} AND {int(hi)} ORDER BY idx) HAVING count(*) > 0"
            for level, lo, hi in ranges
        )
    cursor: Any = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(query)
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
    """A ``created_at`` column as read by :func:`row_batches`, as :func:`gateway.audit.verify.check_row`
    compares it: PostgreSQL's instant in UTC (aware), SQLite's text as the naive wall time it stores."""
    return value.replace(tzinfo=UTC) if isinstance(value, datetime) else datetime.fromisoformat(value)
