"""RFC 9162 section 2.1: tree hashing, and verifying inclusion (2.1.3.2) and consistency (2.1.4.2)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


class VerificationError(Exception):
    """What was expected, and what was found."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


class StreamingRoot:
    """The root of a growing tree, one leaf at a time, keeping only its right border (O(log n))."""

    def __init__(self) -> None:
        self.size = 0
        self._border: list[bytes] = []

    def add(self, leaf: bytes) -> None:
        node, index = leaf, self.size
        while index & 1:
            node = node_hash(self._border.pop(), node)
            index >>= 1
        self._border.append(node)
        self.size += 1

    def root(self) -> bytes:
        if not self._border:
            return hashlib.sha256(b"").digest()
        node = self._border[-1]
        for left in reversed(self._border[:-1]):
            node = node_hash(left, node)
        return node


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    if not 0 <= index < size:
        raise VerificationError(f"leaf {index} is not in a tree of {size}")
    if any(len(p) != 32 for p in proof) or len(leaf) != 32 or len(root) != 32:
        raise VerificationError("hashes must be 32 bytes")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            r = node_hash(r, p)
        fn, sn = fn // 2, sn // 2
    if sn != 0:
        raise VerificationError("inclusion proof is too short")
    if r != root:
        raise VerificationError(f"inclusion proof gives root {r.hex()}, checkpoint says {root.hex()}")


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> None:
    if not 0 <= first <= second:
        raise VerificationError(f"size {second} cannot follow size {first}")
    if first == second:
        if proof or first_root != second_root:
            raise VerificationError("equal sizes need equal roots and an empty proof")
        return
    if first == 0:
        if proof:
            raise VerificationError("a proof from the empty tree is empty")
        return
    if not proof or any(len(p) != 32 for p in proof):
        raise VerificationError("consistency proof is missing or malformed")
    path = ([first_root] if first & (first - 1) == 0 else []) + list(proof)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn, sn = fn // 2, sn // 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            sr = node_hash(sr, c)
        fn, sn = fn // 2, sn // 2
    if sn != 0 or fr != first_root or sr != second_root:
        raise VerificationError(f"tree of {second} entries does not extend the one of {first}")
