"""The inclusion-proof use case: one entry proved against a signed checkpoint (RFC 9162 section 2.1.3).

It runs in its own unit of work because it may write: when the entry is newer than the last checkpoint,
one is signed now rather than make the recipient wait (this never signs more than the log holds). It
answers values, never HTTP: :class:`Proved`, or :class:`Unavailable` with the reason the route turns into
a status. Who may see the entry is the caller's to decide (``may_see``), so an entry the caller may not
see answers exactly as an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import checkpoints, queries, tree
from gateway.audit.c2sp_note import NoteSigner
from gateway.db import unit_of_work


@dataclass(frozen=True)
class Proved:
    disclosure_id: str
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    proof: list[bytes]
    checkpoint: str  # the signed note


class Why(StrEnum):
    NO_SUCH_DISCLOSURE = "no-such-disclosure"  # unknown, or not the caller's to see: the same answer
    NO_CHECKPOINT = "no-checkpoint"  # no checkpoint at the tree size asked for
    NOT_COVERED = "not-covered"  # the checkpoint asked for is older than the entry


@dataclass(frozen=True)
class Unavailable:
    why: Why
    detail: str


def inclusion(
    sessions: sessionmaker[Session],
    signer: NoteSigner,
    disclosure_id: str,
    tree_size: int | None,
    may_see: Callable[[Session, queries.DisclosureRecord], bool],
) -> Proved | Unavailable:
    """The proof of ``disclosure_id`` in the checkpoint of ``tree_size`` (by default the newest)."""

    def work(session: Session) -> Proved | Unavailable:
        entry = queries.get_disclosure(session, disclosure_id)
        if entry is None or not may_see(session, entry):
            return Unavailable(Why.NO_SUCH_DISCLOSURE, "no such disclosure")
        if tree_size is None:
            latest = checkpoints.latest(session)
            if latest is None or latest.tree_size <= entry.seq:
                latest = checkpoints.checkpoint_if_due(session, signer, force=True) or latest
            assert latest is not None  # forced, over a log that holds the entry
            cp = latest
        else:
            found = checkpoints.at_size(session, tree_size)
            if found is None:
                return Unavailable(Why.NO_CHECKPOINT, f"no checkpoint at tree size {tree_size}")
            cp = found
        if cp.tree_size <= entry.seq:
            return Unavailable(Why.NOT_COVERED, f"checkpoint {cp.tree_size} does not cover entry {entry.seq}")
        return Proved(
            disclosure_id=disclosure_id,
            leaf_index=entry.seq,
            leaf_hash=bytes.fromhex(entry.leaf_hash),
            tree_size=cp.tree_size,
            proof=tree.inclusion_proof(session, entry.seq, cp.tree_size),
            checkpoint=cp.note,
        )

    return unit_of_work.run(sessions, work)
