"""Signing checkpoints of the log (the I/O side of :mod:`gateway.audit.c2sp_note`).

When: a checkpoint is signed once 1,000 entries are waiting, or once any entry is waiting and the
last checkpoint is 10 s old (or there is none). Each serving process checks every
``GATEWAY_CHECKPOINT_TICK`` seconds (default 1); ``ld-gateway audit checkpoint`` signs on demand.

Never an inconsistent checkpoint: signing takes the log lock (the ``log_head`` row), recomputes the
root from the stored subtrees and checks it against the head's compact range, opens the previous
checkpoint with our own key, and verifies an RFC 9162 consistency proof from it to the new tree.
Any failure refuses to sign (:class:`CheckpointRefused`) and leaves the table untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import tree
from gateway.audit.c2sp_note import Checkpoint, NoteError, NoteSigner, open_checkpoint
from gateway.audit.log import LogUnavailable, decode_compact
from gateway.audit.rfc9162 import ProofError, root_from_compact, verify_consistency
from gateway.db.models import LogCheckpoint, LogHead

EVERY_ENTRIES = 1000
EVERY = timedelta(seconds=10)


class CheckpointRefused(RuntimeError):
    """The stored tree is not consistent with what was signed before: the gateway will not sign."""


@dataclass(frozen=True)
class Due:
    size: int
    pending: int
    reason: str


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite returns naive UTC


def latest(session: Session) -> LogCheckpoint | None:
    return session.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size.desc()).limit(1)).scalar_one_or_none()


def at_size(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def recent(session: Session, limit: int = 10) -> list[LogCheckpoint]:
    return list(session.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size.desc()).limit(limit)).scalars())


def covering(session: Session, seq: int) -> LogCheckpoint | None:
    """The first signed checkpoint whose tree includes entry ``seq`` (its inclusion can be proved against it)."""
    return session.execute(
        select(LogCheckpoint).where(LogCheckpoint.tree_size > seq).order_by(LogCheckpoint.tree_size).limit(1)
    ).scalar_one_or_none()


def due(size: int, last: LogCheckpoint | None, now: datetime) -> Due | None:
    """Whether a tree of ``size`` entries needs a checkpoint now (pure)."""
    signed = last.tree_size if last else 0
    pending = size - signed
    if pending <= 0:
        return None
    if pending >= EVERY_ENTRIES:
        return Due(size, pending, f"{pending} entries waiting")
    if last is None or now - _aware(last.created_at) >= EVERY:
        return Due(size, pending, "interval")
    return None


def checkpoint_if_due(
    session: Session, signer: NoteSigner, now: datetime | None = None, *, force: bool = False
) -> LogCheckpoint | None:
    """Sign a checkpoint of the current tree when one is due (or ``force``); None when none was needed."""
    now = now or datetime.now(UTC)
    locked = select(LogHead).where(LogHead.id == 1).with_for_update().execution_options(populate_existing=True)
    head = session.execute(locked).scalar_one_or_none()
    if head is None:
        raise LogUnavailable("disclosure log head is missing; run `ld-gateway init`")
    last = latest(session)
    if head.size == (last.tree_size if last else 0) or not (force or due(head.size, last, now)):
        return None
    root = _checked_root(session, head)
    if last is not None:
        _check_extends(session, signer, last, head.size, root)
    note = signer.sign(Checkpoint(signer.name, head.size, root).text())
    row = LogCheckpoint(tree_size=head.size, root_hash=root.hex(), created_at=now, note=note)
    session.add(row)
    session.flush()
    return row


def _checked_root(session: Session, head: LogHead) -> bytes:
    compact = decode_compact(head.compact_range)
    if len(compact) != head.size.bit_count():
        raise CheckpointRefused(f"log head's compact range does not fit {head.size} entries")
    root = root_from_compact(compact)
    try:
        stored = tree.root_at(session, head.size)
    except tree.TreeIncomplete as exc:
        raise CheckpointRefused(f"stored tree is incomplete: {exc}") from None
    if stored != root:
        raise CheckpointRefused(f"stored subtrees give root {stored.hex()}, the head's range {root.hex()}")
    return root


def _check_extends(session: Session, signer: NoteSigner, last: LogCheckpoint, size: int, root: bytes) -> None:
    try:
        previous = open_checkpoint(last.note, signer.verifier)
    except NoteError as exc:
        raise CheckpointRefused(f"checkpoint at {last.tree_size} does not verify: {exc}") from None
    if previous.size != last.tree_size or previous.root.hex() != last.root_hash:
        raise CheckpointRefused(f"checkpoint at {last.tree_size}: columns differ from the signed note")
    if previous.size > size:
        raise CheckpointRefused(f"log has {size} entries, fewer than the {previous.size} already signed")
    try:
        proof = tree.consistency_proof(session, previous.size, size)
        verify_consistency(previous.size, size, previous.root, root, proof)
    except (ProofError, tree.TreeIncomplete) as exc:
        raise CheckpointRefused(f"tree of {size} does not extend checkpoint {previous.size}: {exc}") from None


def iter_checkpoints(session: Session, from_size: int = 0) -> list[LogCheckpoint]:
    query = select(LogCheckpoint).where(LogCheckpoint.tree_size >= from_size).order_by(LogCheckpoint.tree_size)
    return list(session.execute(query).scalars())
