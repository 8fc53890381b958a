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

import hashlib
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
from gateway.audit.rfc9162 import LEAF_PREFIX, NODE_PREFIX, fold, root_plan
from gateway.audit.verify import StoredRow, VerifyFailure, check_row
from gateway.db.models import LogHead

BATCH = 5000


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
    # The tight loop: one pass over the raw rows, a batch per fetch. Each row is accepted by a fast path
    # that checks what check_row checks (position, leaf hash, link, mirrored columns) on the driver's
    # values; any row it cannot accept goes to check_row itself, so the answer and the message are
    # check_row's, always. The fast path never says "bad", only "accepted" or "look closer".
    # Per row that is one SHA-256, one orjson parse and a few comparisons of values the driver already
    # made: the entry arrives as its stored bytes (hashed and parsed as they are), and no object is
    # built that the comparison does not need.
    sha256, loads, leaf_prefix, node_prefix = hashlib.sha256, orjson.loads, LEAF_PREFIX, NODE_PREFIX
    fromisoformat = datetime.fromisoformat
    mirrored = _MIRRORED_KEYS
    stack = compact
    for rows in log_scan.row_batches(session, start=count, batch=BATCH):
        for raw_row in rows:
            accepted = False
            try:
                digest = sha256(leaf_prefix + raw_row[9]).digest()
                leaf_hex = digest.hex()
                if raw_row[0] == count and leaf_hex == raw_row[11] and raw_row[10] == prev:
                    # The hashed entry says what the columns say: the eight mirrored columns in one
                    # tuple comparison, then the link and the instant. orjson accepts a subset of what
                    # json.loads does, with the same values; whatever it refuses goes to check_row.
                    data = loads(raw_row[9])
                    if mirrored(data) == raw_row[:8] and data["prev_hash"] == prev:
                        hashed, created_at = data["created_at"], raw_row[8]
                        accepted = (
                            # SQLite keeps SQLAlchemy's naive UTC rendering: the hashed text is that
                            # rendering with T for the space and +00:00 added, so the same instant.
                            created_at[10:11] == " " and hashed == f"{created_at[:10]}T{created_at[11:]}+00:00"
                            if type(created_at) is str
                            # PostgreSQL's instant comes as naive UTC: a hashed UTC instant is compared
                            # as one too. Any other offset or rendering is check_row's to judge.
                            else hashed[-6:] == "+00:00" and fromisoformat(hashed[:-6]) == created_at
                        )
            except Exception:
                accepted = False
            if not accepted:
                stored_row = _stored_row(raw_row)
                wrong = stored_row if isinstance(stored_row, str) else check_row(stored_row, count, prev)
                if wrong:
                    return result(VerifyFailure(count, raw_row[1], wrong))
                # check_row accepted it: its leaf hash is the one just compared, equal to the stored one.
                leaf_hex = raw_row[11]
                digest = bytes.fromhex(leaf_hex)
            # RFC 9162 compact range, inlined from compact_append: one node hash per completed subtree,
            # kept per level in index order (the order the stored subtrees are read back in).
            current, level, index = digest, 0, count
            while index & 1:
                current = sha256(node_prefix + stack.pop() + current).digest()
                level, index = level + 1, index >> 1
                created[level].append(current)
            stack.append(current)
            prev = leaf_hex
            count += 1
            if count == next_check:
                size, root = pending.pop(0)
                next_check = pending[0][0] if pending else -1
                if fold(stack) != root:
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


# The columns of StoredRow that mirror the hashed entry, in its order (seq .. outcome), as one getter.
_MIRRORED_KEYS = itemgetter(
    "seq", "disclosure_id", "event", "client_id", "agency_code", "purpose", "subject_key", "outcome"
)


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
        (level, ",".join(map(str, range(lo, hi + 1))), ",".join(map(bytes.hex, created[level])))
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
