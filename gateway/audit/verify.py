"""Verifying the disclosure log (pure: works on rows however they were read or exported).

Checks, per entry in order: its position (no gap, no reorder), its leaf hash over the stored canonical
bytes, its link to the previous leaf, that the searchable columns say what the hashed entry says; and
at the end that the head (size and last hash) matches, which catches a deleted tail. The first failure
is reported with what was expected and what was found.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from gateway.audit.entry import GENESIS_HASH
from gateway.audit.rfc9162 import leaf_hash

_MIRRORED = ("disclosure_id", "event", "client_id", "agency_code", "purpose", "subject_key", "outcome")


@dataclass(frozen=True)
class StoredRow:
    seq: int
    disclosure_id: str
    event: str
    client_id: str | None
    agency_code: str | None
    purpose: str | None
    subject_key: str | None
    outcome: str
    created_at: datetime
    entry: str
    prev_hash: str
    leaf_hash: str


@dataclass(frozen=True)
class VerifyFailure:
    seq: int
    disclosure_id: str | None
    problem: str
    # "entry" (``seq`` is its position), "checkpoint" (``seq`` is its tree size) or "tree" (``seq`` is
    # the first entry under a stored subtree that disagrees with the entries).
    kind: str = "entry"

    def __str__(self) -> str:
        who = f" ({self.disclosure_id})" if self.disclosure_id else ""
        return f"{self.kind} {self.seq}{who}: {self.problem}"


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    head_hash: str
    failure: VerifyFailure | None

    @property
    def ok(self) -> bool:
        return self.failure is None


def _eq(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def check_row(row: StoredRow, expected_seq: int, prev: str) -> str | None:
    if row.seq != expected_seq:
        return f"expected entry {expected_seq} next, found entry {row.seq} (missing or reordered entries)"
    computed = leaf_hash(row.entry.encode("utf-8")).hex()
    if not _eq(computed, row.leaf_hash):
        return f"leaf hash mismatch: stored {row.leaf_hash[:16]}…, computed {computed[:16]}… (entry modified)"
    try:
        data = json.loads(row.entry)
    except ValueError:
        return "entry is not valid JSON"
    if data.get("seq") != row.seq:
        return f"entry says it is entry {data.get('seq')}, stored at {row.seq} (entries swapped)"
    if not (_eq(data.get("prev_hash", ""), prev) and _eq(row.prev_hash, prev)):
        return f"does not link to entry {expected_seq - 1}: expected previous hash {prev[:16]}…"
    for name in _MIRRORED:
        if data.get(name) != getattr(row, name):
            return f"column {name} differs from the hashed entry (row modified)"
    if not _same_instant(data.get("created_at"), row):
        return "column created_at differs from the hashed entry (row modified)"
    return None


def _same_instant(value: object, row: StoredRow) -> bool:
    # SQLite returns naive datetimes; compare instants, not renderings.
    if not isinstance(value, str):
        return False
    hashed = datetime.fromisoformat(value)
    stored = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=hashed.tzinfo)
    return hashed == stored


def verify_rows(rows: Iterable[StoredRow], head: tuple[int, str] | None) -> VerifyResult:
    prev = GENESIS_HASH
    count = 0
    for row in rows:
        problem = check_row(row, count, prev)
        if problem:
            return VerifyResult(count, prev, VerifyFailure(count, row.disclosure_id, problem))
        prev = row.leaf_hash
        count += 1
    if head is None:
        return VerifyResult(count, prev, VerifyFailure(count, None, "log head is missing"))
    size, head_hash = head
    if size != count or not _eq(head_hash, prev):
        return VerifyResult(
            count,
            prev,
            VerifyFailure(
                count,
                None,
                f"log head says {size} entries ending {head_hash[:16]}…, found {count} ending {prev[:16]}… "
                "(entries removed from the end)",
            ),
        )
    return VerifyResult(count, prev, None)
