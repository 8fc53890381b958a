"""Reading the log's Merkle tree from the database: roots and proofs in O(log n) row reads.

The pure planning and folding is in :mod:`gateway.audit.rfc9162`; here the planned subtrees are
fetched in (at most) two indexed queries: leaves from ``disclosure_log``, interior subtrees from
``log_tree_nodes``. Nothing here recomputes the tree.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gateway.audit import rfc9162
from gateway.audit.rfc9162 import Coord
from gateway.db.models import DisclosureLogEntry, LogTreeNode


class TreeIncomplete(RuntimeError):
    """A subtree the proof needs is not stored: the size is beyond the log, or rows were removed."""


def fetch_subtrees(session: Session, coords: Iterable[Coord]) -> dict[Coord, bytes]:
    wanted = set(coords)
    found: dict[Coord, bytes] = {}
    leaves = [index for level, index in wanted if level == 0]
    if leaves:
        rows = session.execute(
            select(DisclosureLogEntry.seq, DisclosureLogEntry.leaf_hash).where(DisclosureLogEntry.seq.in_(leaves))
        )
        found.update(((0, seq), bytes.fromhex(h)) for seq, h in rows)
    interior = [(level, index) for level, index in wanted if level > 0]
    if interior:
        condition = or_(*(and_(LogTreeNode.level == lv, LogTreeNode.idx == ix) for lv, ix in interior))
        nodes = session.execute(select(LogTreeNode.level, LogTreeNode.idx, LogTreeNode.hash).where(condition))
        found.update(((lv, ix), bytes.fromhex(h)) for lv, ix, h in nodes)
    missing = wanted - set(found)
    if missing:
        level, index = min(missing)
        raise TreeIncomplete(f"subtree at level {level} index {index} is not stored")
    return found


def _materialise(session: Session, plan: rfc9162.Plan) -> list[bytes]:
    return rfc9162.materialise(plan, fetch_subtrees(session, rfc9162.plan_coords(plan)))


def root_at(session: Session, size: int) -> bytes:
    """The root of the tree of the first ``size`` entries (any size up to the current one)."""
    if size == 0:
        return rfc9162.EMPTY_ROOT
    return _materialise(session, [rfc9162.root_plan(size)])[0]


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    return _materialise(session, rfc9162.inclusion_plan(index, size))


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    return _materialise(session, rfc9162.consistency_plan(first, second))
