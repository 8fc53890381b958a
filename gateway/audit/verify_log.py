"""``ld-gateway audit verify``: the whole log, its stored Merkle tree and every signed checkpoint.

One streaming pass over the entries (O(log n) memory) checks, besides what :func:`verify_rows`
checks per entry (position, leaf hash, link, searchable columns, head):

- every checkpoint opens with the log key, its columns say what its signed note says, and its root is
  the root of exactly that many entries;
- every stored interior subtree (``log_tree_nodes``) is the hash of the entries under it, and the
  head's compact range is the tree's right border, so proofs served later are proofs of these entries;
- no checkpoint counts more entries than the log holds (a truncated log);
- every checkpoint the witness holds is here, unchanged, and within the log (a rollback).

``from_size`` starts at a checkpoint already verified (incremental audits): its signature is checked,
the stored tree at that size must give its root, and entries from there on are checked in full.
The first failure is named: entry (its position and disclosure id), checkpoint (its size) or tree.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy.orm import Session

from gateway.audit import checkpoints, log, log_scan, tree
from gateway.audit.c2sp_note import NoteError, NoteVerifier, open_checkpoint
from gateway.audit.entry import GENESIS_HASH
from gateway.audit.rfc9162 import HASH_SIZE, compact_extend, fold, leaf_hashes, root_plan
from gateway.audit.verify import StoredRow, VerifyFailure, check_row
from gateway.db.models import LogHead

# Rows checked at once by the whole-column comparisons (_accepted): small enough that a chunk's rows,
# leaf hashes and parsed entries stay in the CPU's caches. 5,000 rows at a time did not (about 9.5 µs
# an entry against 6.6 with 256 on SQLite). It is not what a database round trip fetches: on
# PostgreSQL that is log_scan.ROUND_TRIP rows, handed on CHUNK at a time.
CHUNK = 256
# The stored subtrees completed by the entries are compared with the computed ones every BATCH entries
# (one query a batch; a multiple of CHUNK, so every BATCH entries exactly).
BATCH = 4096


@dataclass(frozen=True)
class LogVerifyResult:
    entries: int
    checkpoints: int
    head_hash: str
    root: str
    start: int
    failure: VerifyFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _hex_eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def verify_log(
    session: Session,
    verifier: NoteVerifier | None,
    *,
    from_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    witnessed: Iterable[str] = (),
) -> LogVerifyResult:
    head = session.get(LogHead, 1)
    signed: list[tuple[int, bytes]] = []
    count, prev = 0, GENESIS_HASH
    compact: list[bytes] = []

    def result(failure: VerifyFailure | None) -> LogVerifyResult:
        return LogVerifyResult(count, len(signed), prev, fold(compact).hex(), from_size or 0, failure)

    for row in checkpoints.iter_checkpoints(session):
        if verifier is None:
            return result(VerifyFailure(row.tree_size, None, "no log key to check its signature", "checkpoint"))
        try:
            cp = open_checkpoint(row.note, verifier)
        except NoteError as exc:
            return result(VerifyFailure(row.tree_size, None, f"signed note does not verify: {exc}", "checkpoint"))
        if cp.size != row.tree_size or not _hex_eq(cp.root.hex(), row.root_hash):
            return result(VerifyFailure(row.tree_size, None, "columns differ from the signed note", "checkpoint"))
        signed.append((cp.size, cp.root))
    held = dict(signed)
    for note in witnessed:
        # Checkpoints a witness holds must all be in the log, unchanged: deleting one is otherwise invisible.
        try:
            seen = open_checkpoint(note, verifier) if verifier else None
        except NoteError as exc:
            return result(VerifyFailure(-1, None, f"a witnessed checkpoint does not verify: {exc}", "checkpoint"))
        if seen is None:
            continue
        if head is not None and seen.size > head.size:
            problem = (
                f"the log is behind its witness: the witness saw {seen.size} entries, the log holds {head.size} "
                "(a restored older copy, or a truncation)"
            )
            return result(VerifyFailure(seen.size, None, problem, "checkpoint"))
        if held.get(seen.size) != seen.root:
            what = "missing here" if seen.size not in held else "signed with another root here: the log forks"
            return result(
                VerifyFailure(
                    seen.size, None, f"the witness holds a checkpoint of {seen.size} entries, {what}", "checkpoint"
                )
            )

    if from_size:
        start = dict(signed).get(from_size)
        if start is None:
            return result(VerifyFailure(from_size, None, "no signed checkpoint at this size", "checkpoint"))
        try:
            stored = tree.fetch_subtrees(session, root_plan(from_size))
            prev_row = log.iter_rows(session, batch=1, start=from_size - 1)
            prev = next(prev_row).leaf_hash
        except (tree.TreeIncomplete, StopIteration):
            return result(VerifyFailure(from_size, None, "stored tree or entries end before it", "checkpoint"))
        compact = [stored[c] for c in root_plan(from_size)]
        count = from_size
        if fold(compact) != start:
            return result(VerifyFailure(from_size, None, "stored tree at this size gives another root", "checkpoint"))

    pending = [(size, root) for size, root in signed if size > count]
    created = _no_nodes()
    batch_start = count
    next_check = pending[0][0] if pending else -1
    # One pass over the raw rows, handed on a chunk (CHUNK rows) at a time, each cut where a checkpoint
    # ends (its root is the root of the tree at that size). A chunk is accepted by whole-chunk
    # comparisons (_accepted) that make, for every row, the checks check_row makes; a chunk they do
    # not accept is judged row by row by check_row itself, so the answer and the message are
    # check_row's, always. The fast path never says "bad", only "accepted" or "look closer".
    # The stored subtrees are compared at the end of the first chunk that reaches BATCH entries since
    # the last comparison; a chunk is never longer than BATCH (tests set BATCH below CHUNK), so that
    # is at most one chunk late, and exactly every BATCH entries when BATCH is a multiple of CHUNK.
    for rows in log_scan.row_batches(session, start=count, batch=min(CHUNK, BATCH)):
        done = 0
        while done < len(rows):
            # (Checkpoint sizes are distinct and ascending: the next one is always ahead, when there is one.)
            take = min(len(rows) - done, next_check - count) if next_check > count else len(rows) - done
            chunk = rows if take == len(rows) else rows[done : done + take]
            accepted = _accepted(chunk, count, prev)
            if accepted is None:
                leaves, prev, wrong = _judged(chunk, count, prev)
                if wrong:
                    # What is reported with the failure is what was verified: the entries before the
                    # first bad one (as verify_rows reports them), not the start of its chunk.
                    compact, _ = compact_extend(compact, count, leaves)
                    count += len(leaves)
                    return result(wrong)
            else:
                leaves, prev = accepted
            compact, made = compact_extend(compact, count, leaves)
            for level in range(1, len(made)):
                created[level] += made[level]
            count, done = count + take, done + take
            if count == next_check:
                size, root = pending.pop(0)
                next_check = pending[0][0] if pending else -1
                if fold(compact) != root:
                    return result(VerifyFailure(size, None, "signed root is not the root of the entries", "checkpoint"))
        if count - batch_start >= BATCH:
            failure = _check_nodes(session, batch_start, count, created)
            if failure:
                return result(failure)
            created, batch_start = _no_nodes(), count
            if progress:
                progress(count)
    failure = _check_nodes(session, batch_start, count, created)
    if failure:
        return result(failure)
    if progress:
        progress(count)
    if pending:
        size = pending[0][0]
        return result(
            VerifyFailure(size, None, f"covers {size} entries, the log holds {count} (entries removed)", "checkpoint")
        )
    if head is None:
        return result(VerifyFailure(count, None, "log head is missing"))
    if head.size != count or not _hex_eq(head.head_hash, prev):
        return result(
            VerifyFailure(
                count,
                None,
                f"log head says {head.size} entries ending {head.head_hash[:16]}…, found {count} ending {prev[:16]}… "
                "(entries removed from the end)",
            )
        )
    if (head.compact_range or "") != ",".join(h.hex() for h in compact):
        return result(VerifyFailure(count, None, "log head's compact range is not the tree's right border", "tree"))
    return result(None)


# What the hashed entry says that the row must say too, in StoredRow's order for the mirrored columns
# (seq .. outcome), then the link and the instant.
_HASHED = itemgetter(
    "seq",
    "disclosure_id",
    "event",
    "client_id",
    "agency_code",
    "purpose",
    "subject_key",
    "outcome",
    "prev_hash",
    "created_at",
)
_SEPARATOR, _TIME = itemgetter(slice(10, 11)), itemgetter(slice(11, None))
_LOCAL, _OFFSET = itemgetter(slice(-6)), itemgetter(slice(-6, None))
_HEX = 2 * HASH_SIZE


def _accepted(rows: list[tuple[Any, ...]], count: int, prev: str) -> tuple[list[bytes], str] | None:
    """The leaf hashes of ``rows`` (the entries from position ``count``, after the leaf hash ``prev``)
    and the last one in hex, when every row passes each check :func:`check_row` makes; else None.

    The checks are made on whole columns at once, each a comparison in C over the chunk: position,
    leaf hash (recomputed from the stored bytes), link (the stored previous hash and the hashed one),
    the mirrored columns and the instant, for every row. Hex hashes are compared as one comma-joined
    string per column: no computed item holds a comma, so equal strings have equal items, in order.
    Only what check_row would accept is accepted; anything else (an exception included) is None.
    """
    try:
        if "," in prev or not rows:
            return None
        columns = tuple(zip(*rows, strict=True))
        seqs, instants, entries, links, leaf_hexes = columns[0], columns[8], columns[9], columns[10], columns[11]
        if seqs != tuple(range(count, count + len(rows))):
            return None
        leaves = leaf_hashes(entries)
        computed = b"".join(leaves).hex(",", HASH_SIZE)
        linked = f"{prev},{computed}"[: -_HEX - 1]  # each row's expected previous hash
        if computed != ",".join(leaf_hexes) or linked != ",".join(links):
            return None
        # The hashed entry, parsed (orjson accepts a subset of what json.loads does, with the same
        # values; whatever it refuses leaves the fast path) and only its compared values kept.
        hashed = tuple(zip(*map(_HASHED, map(orjson.loads, entries)), strict=True))
        if hashed[:8] != columns[:8] or ",".join(hashed[8]) != linked:
            return None
        if type(instants[0]) is str:
            # SQLite keeps SQLAlchemy's naive UTC rendering: the hashed text is that rendering with T
            # for the space and +00:00 added, so the same instant.
            rendered = tuple(map("{:.10}T{}+00:00".format, instants, map(_TIME, instants)))  # [:10] T [11:]
            same = hashed[9] == rendered and all(map(" ".__eq__, map(_SEPARATOR, instants)))
        else:
            # PostgreSQL's instant comes as naive UTC: a hashed UTC instant is compared as one too. Any
            # other offset or rendering is check_row's to judge.
            local = tuple(map(datetime.fromisoformat, map(_LOCAL, hashed[9])))
            same = local == instants and all(map("+00:00".__eq__, map(_OFFSET, hashed[9])))
        return (leaves, computed[-_HEX:]) if same else None
    except Exception:  # anything unexpected is for check_row to judge
        return None


def _judged(rows: list[tuple[Any, ...]], count: int, prev: str) -> tuple[list[bytes], str, VerifyFailure | None]:
    """``rows`` judged one by one by :func:`check_row`, up to the first it refuses: the leaf hashes of
    the rows it accepted before that one, the last of them in hex (``prev`` if none), and the failure
    (None when it accepted them all)."""
    leaves: list[bytes] = []
    for raw_row in rows:
        stored_row = _stored_row(raw_row)
        wrong = stored_row if isinstance(stored_row, str) else check_row(stored_row, count, prev)
        if wrong:
            return leaves, prev, VerifyFailure(count, raw_row[1], wrong)
        # check_row accepted it: its stored leaf hash is the one it computed.
        prev, count = raw_row[11], count + 1
        leaves.append(bytes.fromhex(prev))
    return leaves, prev, None


def _stored_row(raw_row: tuple[Any, ...]) -> StoredRow | str:
    """The row as :func:`check_row` reads it, or why it cannot be read as one."""
    values = list(raw_row)
    values[8] = log_scan.stored_instant(values[8])
    if isinstance(values[9], bytes):
        try:
            values[9] = values[9].decode("utf-8")
        except UnicodeDecodeError:
            return "entry is not UTF-8 text"
    return StoredRow(*values)


def _no_nodes() -> list[list[bytes]]:
    """Subtree hashes completed in a batch, one list per level (index order within a level)."""
    return [[] for _ in range(64)]


def _check_nodes(session: Session, first: int, end: int, created: list[list[bytes]]) -> VerifyFailure | None:
    """The stored subtrees completed by entries ``[first, end)`` are exactly the ones computed."""
    ranges: list[tuple[int, int, int]] = []
    level = 1
    while (1 << level) <= end:
        lo, hi = ((first + (1 << level)) >> level) - 1, (end >> level) - 1
        if lo <= hi:
            ranges.append((level, lo, hi))
        level += 1
    if not ranges:
        return None
    # The common case in one query and one comparison per level: the stored indices must be exactly
    # lo..hi in the order their hashes come in, and the hashes the computed ones. (Comma-joined: the
    # computed hashes hold no comma and a NULL is an empty item, so equal strings are equal lists.)
    expected = [
        (level, ",".join(map(str, range(lo, hi + 1))), b"".join(created[level]).hex(",", HASH_SIZE))
        for level, lo, hi in ranges
    ]
    if log_scan.tree_levels(session, ranges) == expected:
        return None
    # Below, the first difference is named.
    computed = {(level, lo + k): h.hex() for level, lo, _ in ranges for k, h in enumerate(created[level])}
    stored = log_scan.tree_nodes_in(session, ranges)
    for level, lo, hi in ranges:
        for index in range(lo, hi + 1):
            found = stored.get((level, index))
            if found is None or found != computed[(level, index)]:
                span = (index << level, (index + 1) << level)
                what = "missing" if found is None else "differs from the entries under it"
                return VerifyFailure(
                    span[0], None, f"stored subtree over entries {span[0]}..{span[1] - 1} {what}", "tree"
                )
        if sum(1 for lv, _ in stored if lv == level) != hi - lo + 1:
            return VerifyFailure(lo << level, None, "unexpected stored subtrees", "tree")
    return None
