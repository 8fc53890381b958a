"""Merkle trees from RFC 9162 (Certificate Transparency 2.0), section 2.1 (pure: no I/O).

Domain separation prefixes (section 2.1.1) stop a leaf from being passed off as an interior node
(second preimage). The tree over ``n`` leaves is stored as its *complete subtrees*: a subtree is named
by ``(level, index)`` and covers leaves ``[index * 2**level, (index + 1) * 2**level)``; once complete its
hash never changes. Proof generation is split in two so the I/O side can fetch every needed hash in
one query: a *plan* (which subtrees, O(log n) of them) and :func:`materialise` (fold them into hashes).

Verification (:func:`verify_inclusion`, :func:`verify_consistency`) follows the algorithms of
sections 2.1.3.2 and 2.1.4.2 literally and shares no code with generation, so a bug in one cannot
hide a bug in the other.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import deque
from collections.abc import Mapping, Sequence
from itertools import repeat

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH() (section 2.1.1)

Coord = tuple[int, int]  # (level, index) of a complete subtree
Plan = list[list[Coord]]  # one proof element per entry: the subtrees whose fold is that element
Created = list[tuple[int, int, bytes]]  # (level, index, hash) of subtrees completed by an append


class ProofError(ValueError):
    """A proof does not verify; the message says what was expected and what was found."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


# Many hashes at once (leaf_hashes, compact_extend): a SHA-256 state fed the prefix, copied for each
# item and fed its parts, each step one C-level pass over a list (no Python step per item).
_LEAF_STATE = hashlib.sha256(LEAF_PREFIX)
_NODE_STATE = hashlib.sha256(NODE_PREFIX)
_State = type(_LEAF_STATE)  # whatever type hashlib.sha256 makes: its methods, to map over states


def _hashes(prefixed: hashlib._Hash, *parts: Sequence[bytes]) -> list[bytes]:
    """``HASH(prefix || parts[0][i] || parts[1][i] || ...)`` for each ``i``, ``prefixed`` holding the prefix."""
    states = list(map(_State.copy, repeat(prefixed, len(parts[0]))))
    for part in parts:
        deque(map(_State.update, states, part), maxlen=0)
    return list(map(_State.digest, states))


def leaf_hashes(entries: Sequence[bytes]) -> list[bytes]:
    """:func:`leaf_hash` of each entry, in one pass (what verifying a whole log spends most on)."""
    return _hashes(_LEAF_STATE, entries) if entries else []


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n > 1``): where RFC 9162 splits D[n]."""
    return 1 << ((n - 1).bit_length() - 1)


# -- building ---------------------------------------------------------------------------------------


def compact_append(
    compact: Sequence[bytes], size: int, leaf: bytes
) -> tuple[list[bytes], list[tuple[int, int, bytes]]]:
    """Append one leaf hash to a tree of ``size`` leaves held as its compact range.

    The compact range is the list of complete-subtree hashes along the tree's right border, largest
    first (one per set bit of ``size``). Returns the new range and the interior subtrees completed by
    this leaf as ``(level, index, hash)`` (amortised one per append, at most log2 n).
    """
    if len(compact) != size.bit_count():
        raise ValueError(f"compact range for {size} leaves has {size.bit_count()} hashes, got {len(compact)}")
    stack = list(compact)
    created: Created = []
    current, level, index = leaf, 0, size
    while index & 1:
        current = node_hash(stack.pop(), current)
        level, index = level + 1, index >> 1
        created.append((level, index, current))
    stack.append(current)
    return stack, created


def compact_extend(
    compact: Sequence[bytes], size: int, leaves: Sequence[bytes]
) -> tuple[list[bytes], list[list[bytes]]]:
    """Append many leaf hashes at once: what :func:`compact_append` gives leaf by leaf, a level at a time.

    Returns the new compact range and, per level (index 0 is empty), the interior subtrees the new
    leaves completed, in index order: at level ``l`` they are the subtrees ``((size + 2**l) >> l) - 1``
    up to ``((size + len(leaves)) >> l) - 1``. Each level's node hashes are made in one pass over that
    level (pairs of the level below, the first paired with the range's subtree on its left when it is
    a right child), so the work is the same ``len(leaves)`` node hashes, without a step per leaf.
    """
    if len(compact) != size.bit_count():
        raise ValueError(f"compact range for {size} leaves has {size.bit_count()} hashes, got {len(compact)}")
    stack = list(compact)
    created: list[list[bytes]] = [[]]
    # The last node of a level that has no right sibling yet: part of the new compact range.
    unpaired: list[bytes] = []
    nodes, index = list(leaves), size  # this level's new complete subtrees; the first one's index
    while nodes:
        parents: list[bytes] = []
        if index & 1:  # the first is a right child: its left sibling is the range's smallest subtree
            parents.append(node_hash(stack.pop(), nodes[0]))
            nodes = nodes[1:]
        paired = len(nodes) & ~1
        if paired:
            parents += _hashes(_NODE_STATE, nodes[0:paired:2], nodes[1:paired:2])
        if len(nodes) & 1:
            unpaired.append(nodes[-1])
        created.append(parents)
        nodes, index = parents, index >> 1
    # What is left on the stack covers higher levels than anything unpaired (its set bits below the
    # highest level reached were each paired above), so the range stays largest first.
    stack += reversed(unpaired)
    return stack, created


def fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of adjacent complete subtrees of strictly decreasing size, as RFC 9162's MTH nests them."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def root_from_compact(compact: Sequence[bytes]) -> bytes:
    return fold(compact)


def merkle_tree_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of leaf *hashes*, straight from the definition in section 2.1.1 (O(n): tests, audits)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return node_hash(merkle_tree_hash(leaves[:k]), merkle_tree_hash(leaves[k:]))


# -- planning proofs --------------------------------------------------------------------------------


def range_coords(start: int, end: int) -> list[Coord]:
    """The complete subtrees that tile leaves ``[start, end)``, left to right (largest aligned first)."""
    coords: list[Coord] = []
    while start < end:
        level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1
        while start + (1 << level) > end:
            level -= 1
        coords.append((level, start >> level))
        start += 1 << level
    return coords


def root_plan(size: int) -> list[Coord]:
    return range_coords(0, size)


def inclusion_plan(index: int, size: int) -> Plan:
    """PATH(m, D[n]) of section 2.1.3.1, as subtrees to fetch; leaf-to-root order."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")

    def path(m: int, start: int, n: int) -> Plan:
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*path(m, start, k), range_coords(start + k, start + n)]
        return [*path(m - k, start + k, n - k), range_coords(start, start + k)]

    return path(index, 0, size)


def consistency_plan(first: int, second: int) -> Plan:
    """PROOF(m, D[n]) of section 2.1.4.1, as subtrees to fetch. Empty when ``first`` is 0 or ``second``."""
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} leaves to {second}")
    if first in (0, second):
        return []

    def subproof(m: int, start: int, n: int, whole: bool) -> Plan:
        if m == n:
            return [] if whole else [range_coords(start, start + n)]
        k = _split(n)
        if m <= k:
            return [*subproof(m, start, k, whole), range_coords(start + k, start + n)]
        return [*subproof(m - k, start + k, n - k, False), range_coords(start, start + k)]

    return subproof(first, 0, second, True)


def plan_coords(plan: Plan) -> set[Coord]:
    return {coord for element in plan for coord in element}


def materialise(plan: Plan, hashes: Mapping[Coord, bytes]) -> list[bytes]:
    """The proof's hashes from the fetched subtrees (KeyError names a subtree that was not supplied)."""
    return [fold([hashes[coord] for coord in element]) for element in plan]


# -- verifying (section 2.1.3.2 and 2.1.4.2) ---------------------------------------------------------


def _check_size(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} is {len(value)} bytes, expected {HASH_SIZE}")


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def root_from_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root the inclusion proof leads to (section 2.1.3.2 steps 1-5)."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of {size} leaves")
    _check_size("leaf hash", leaf)
    fn, sn, r = index, size - 1, leaf
    for i, p in enumerate(proof):
        _check_size(f"proof[{i}]", p)
        if sn == 0:
            raise ProofError(f"proof has {len(proof)} hashes, more than a tree of {size} leaves needs")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"proof has {len(proof)} hashes, too few for leaf {index} of {size}")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise :class:`ProofError` unless ``proof`` shows leaf ``index`` is in the tree with ``root``."""
    _check_size("root", root)
    computed = root_from_inclusion(index, size, leaf, proof)
    if not _same(computed, root):
        raise ProofError(f"inclusion proof leads to root {computed.hex()}, expected {root.hex()}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    """Raise :class:`ProofError` unless the tree of ``second`` leaves extends the one of ``first``."""
    if first < 0 or second < first:
        raise ProofError(f"a tree of {second} leaves cannot extend one of {first}")
    if first == second:
        if proof:
            raise ProofError("equal sizes need an empty proof")
        if not _same(first_root, second_root):
            raise ProofError(f"same size {first}, different roots {first_root.hex()} and {second_root.hex()}")
        return
    if first == 0:
        if proof:
            raise ProofError("a proof from the empty tree must be empty")
        return
    _check_size("first root", first_root)
    _check_size("second root", second_root)
    if not proof:
        raise ProofError(f"an empty proof cannot show {second} leaves extend {first}")
    for i, p in enumerate(proof):
        _check_size(f"proof[{i}]", p)
    path = list(proof)
    if first & (first - 1) == 0:  # step 2: a power of two is itself the first subtree
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError(f"proof has {len(proof)} hashes, more than {first} to {second} needs")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError(f"proof has {len(proof)} hashes, too few for {first} to {second}")
    if not _same(fr, first_root):
        raise ProofError(f"proof leads to first root {fr.hex()}, expected {first_root.hex()}")
    if not _same(sr, second_root):
        raise ProofError(f"proof leads to second root {sr.hex()}, expected {second_root.hex()}")
