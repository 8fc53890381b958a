"""Merkle tree hashing from RFC 9162 (Certificate Transparency 2.0), section 2.1.1.

Domain separation prefixes stop a leaf from being passed off as an interior node (second preimage).
"""

from __future__ import annotations

import hashlib

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()
