"""RFC 9162 Merkle maths against the transparency-dev/merkle vectors, including their failing cases.

The corrupted probes are built by the same rules as upstream's ``corruptInclusionProof`` and
``corruptConsistencyProof``; every one must be refused. A property check then compares generation,
the compact range and verification with the RFC's recursive definition for every small tree.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gateway.audit.rfc9162 import (
    EMPTY_ROOT,
    ProofError,
    compact_append,
    compact_extend,
    consistency_plan,
    inclusion_plan,
    leaf_hash,
    leaf_hashes,
    materialise,
    merkle_tree_hash,
    range_coords,
    root_from_compact,
    verify_consistency,
    verify_inclusion,
)

VECTORS = json.loads((Path(__file__).parent / "vectors" / "transparency_dev_merkle.json").read_text())
LEAVES = [leaf_hash(bytes.fromhex(x)) for x in VECTORS["leaves"]]
ROOTS = [bytes.fromhex(x) for x in VECTORS["roots"]]
SOME_HASH = bytes.fromhex("abacaba000000000000000000000000000000000000000000060061e00123456")


def _subtree_hashes(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Every complete subtree's hash, from the definition (the test's own reference store)."""
    hashes: dict[tuple[int, int], bytes] = {}
    level = 0
    while (1 << level) <= len(leaves):
        width = 1 << level
        for index in range(len(leaves) // width):
            hashes[(level, index)] = merkle_tree_hash(leaves[index * width : (index + 1) * width])
        level += 1
    return hashes


STORE = _subtree_hashes(LEAVES)


def test_roots_match_the_vectors():
    assert merkle_tree_hash([]) == EMPTY_ROOT
    for n in range(1, 9):
        assert merkle_tree_hash(LEAVES[:n]) == ROOTS[n - 1]
        assert materialise([range_coords(0, n)], STORE)[0] == ROOTS[n - 1]


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['leaf']}-of-{v['size']}")
def test_inclusion_proofs_match_the_vectors(vector):
    index, size = vector["leaf"] - 1, vector["size"]
    proof = [bytes.fromhex(x) for x in vector["proof"]]
    assert materialise(inclusion_plan(index, size), STORE) == proof
    verify_inclusion(index, size, LEAVES[index], proof, ROOTS[size - 1])


def _inclusion_probes(index, size, leaf, proof, root):
    probes = [
        (index - 1, size, leaf, proof, root, "leafIndex - 1"),
        (index + 1, size, leaf, proof, root, "leafIndex + 1"),
        (index ^ 2, size, leaf, proof, root, "leafIndex ^ 2"),
        (index, size * 2, leaf, proof, root, "treeSize * 2"),
        (index, size // 2, leaf, proof, root, "treeSize / 2"),
        (index, size, b"WrongLeaf", proof, root, "wrong leaf"),
        (index, size, leaf, proof, EMPTY_ROOT, "empty root"),
        (index, size, leaf, proof, SOME_HASH, "random root"),
        (index, size, leaf, [*proof, b""], root, "trailing garbage"),
        (index, size, leaf, [*proof, root], root, "trailing root"),
        (index, size, leaf, [b"", *proof], root, "preceding garbage"),
        (index, size, leaf, [root, *proof], root, "preceding root"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 8]) + wrong[i][1:]
        probes.append((index, size, leaf, wrong, root, f"modified proof[{i}] bit 3"))
    if proof:
        probes.append((index, size, leaf, proof[:-1], root, "removed component"))
    if len(proof) > 1:
        probes.append((index, size, leaf, [proof[0], SOME_HASH, *proof[1:]], root, "inserted component"))
    return probes


@pytest.mark.parametrize("vector", VECTORS["inclusion"], ids=lambda v: f"{v['leaf']}-of-{v['size']}")
def test_corrupted_inclusion_proofs_are_refused(vector):
    index, size = vector["leaf"] - 1, vector["size"]
    proof = [bytes.fromhex(x) for x in vector["proof"]]
    for i, s, leaf, p, root, desc in _inclusion_probes(index, size, LEAVES[index], proof, ROOTS[size - 1]):
        with pytest.raises((ProofError, ValueError)):
            verify_inclusion(i, s, leaf, p, root)
            pytest.fail(f"verified a corrupted proof: {desc}")


@pytest.mark.parametrize("vector", VECTORS["consistency"], ids=lambda v: f"{v['size1']}-to-{v['size2']}")
def test_consistency_proofs_match_the_vectors(vector):
    m, n = vector["size1"], vector["size2"]
    proof = [bytes.fromhex(x) for x in vector["proof"]]
    assert materialise(consistency_plan(m, n), STORE) == proof
    verify_consistency(m, n, ROOTS[m - 1], ROOTS[n - 1], proof)


@pytest.mark.parametrize(
    "vector", [v for v in VECTORS["consistency"] if v["proof"]], ids=lambda v: f"{v['size1']}-to-{v['size2']}"
)
def test_corrupted_consistency_proofs_are_refused(vector):
    m, n = vector["size1"], vector["size2"]
    r1, r2 = ROOTS[m - 1], ROOTS[n - 1]
    proof = [bytes.fromhex(x) for x in vector["proof"]]
    probes = [
        (m - 1, n, r1, r2, proof, "size1 - 1"),
        (m + 1, n, r1, r2, proof, "size1 + 1"),
        (m ^ 2, n, r1, r2, proof, "size1 ^ 2"),
        (m, n * 2, r1, r2, proof, "size2 * 2"),
        (m, n // 2, r1, r2, proof, "size2 / 2"),
        (m, n, b"WrongRoot", r2, proof, "wrong root1"),
        (m, n, r1, b"WrongRoot", proof, "wrong root2"),
        (m, n, r2, r1, proof, "swapped roots"),
        (m, n, r1, r2, [], "empty proof"),
        (m, n, r1, r2, [*proof, b""], "trailing garbage"),
        (m, n, r1, r2, [*proof, r1], "trailing root1"),
        (m, n, r1, r2, [*proof, r2], "trailing root2"),
        (m, n, r1, r2, [b"", *proof], "preceding garbage"),
        (m, n, r1, r2, [r1, *proof], "preceding root1"),
        (m, n, r1, r2, [r2, *proof], "preceding root2"),
        (m, n, r1, r2, [proof[0], *proof], "preceding proof[0]"),
        (m, n, r1, r2, proof[:-1], "truncated proof"),
    ]
    for i in range(len(proof)):
        wrong = list(proof)
        wrong[i] = bytes([wrong[i][0] ^ 16]) + wrong[i][1:]
        probes.append((m, n, r1, r2, wrong, f"modified proof[{i}] bit 4"))
    for a, b, ra, rb, p, desc in probes:
        if a == 0 and not p:
            continue  # from the empty tree every proof-less claim is consistent (upstream skips it too)
        with pytest.raises(ProofError):
            verify_consistency(a, b, ra, rb, p)
            pytest.fail(f"verified a corrupted proof: {desc}")


@pytest.mark.parametrize("name", sorted(VECTORS["stored_files"]))
def test_stored_upstream_files(name):
    v = VECTORS["stored_files"][name]
    b64 = base64.b64decode
    if "leafIdx" in v:
        check = lambda: verify_inclusion(  # noqa: E731
            v["leafIdx"], v["treeSize"], b64(v["leafHash"]), [b64(p) for p in v["proof"]], b64(v["root"])
        )
    else:
        check = lambda: verify_consistency(  # noqa: E731
            v["size1"], v["size2"], b64(v["root1"]), b64(v["root2"]), [b64(p) for p in v["proof"]]
        )
    if v["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def test_consistency_edge_cases():
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, ROOTS[4], [])
    verify_consistency(3, 3, ROOTS[2], ROOTS[2], [])
    for args in [(1, 1, ROOTS[0], ROOTS[1], []), (2, 1, ROOTS[1], ROOTS[0], []), (1, 2, ROOTS[0], ROOTS[1], [])]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    with pytest.raises(ProofError):
        verify_consistency(1, 1, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT])


def test_every_small_tree_against_the_definition():
    """Compact range, stored subtrees and both proofs agree with MTH for every tree up to 40 leaves."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]
    store = _subtree_hashes(leaves)
    compact: list[bytes] = []
    for n in range(1, len(leaves) + 1):
        compact, created = compact_append(compact, n - 1, leaves[n - 1])
        for level, index, digest in created:
            assert store[(level, index)] == digest
        root = merkle_tree_hash(leaves[:n])
        assert root_from_compact(compact) == root
        for i in range(n):
            verify_inclusion(i, n, leaves[i], materialise(inclusion_plan(i, n), store), root)
        for m in range(0, n + 1):
            first = merkle_tree_hash(leaves[:m])
            verify_consistency(m, n, first, root, materialise(consistency_plan(m, n), store))


def test_plans_stay_logarithmic():
    size = 1_000_003
    assert sum(len(e) for e in inclusion_plan(size - 1, size)) <= 2 * size.bit_length()
    assert sum(len(e) for e in consistency_plan(700_001, size)) <= 2 * size.bit_length()


def test_compact_append_refuses_a_wrong_range():
    with pytest.raises(ValueError):
        compact_append([], 3, LEAVES[0])


def test_compact_extend_is_compact_append_leaf_by_leaf():
    """Any run of leaves appended at once, from any size, gives the range and the subtrees (each at the
    index the docstring names) that appending them one by one gives, and the definition's hashes."""
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    store = _subtree_hashes(leaves)
    ranges: list[list[bytes]] = [[]]
    for n in range(len(leaves)):
        ranges.append(compact_append(ranges[n], n, leaves[n])[0])
    for size in range(len(leaves) + 1):
        for count in range(len(leaves) - size + 1):
            compact, created = compact_extend(ranges[size], size, leaves[size : size + count])
            assert compact == ranges[size + count], (size, count)
            assert created[0] == []
            for level in range(1, len(created)):
                first = ((size + (1 << level)) >> level) - 1
                expected = [store[(level, index)] for index in range(first, ((size + count) >> level))]
                assert created[level] == expected, (size, count, level)
            assert ((size + count) >> len(created)) <= (size >> len(created)), "no completed level left out"
            assert root_from_compact(compact) == merkle_tree_hash(leaves[: size + count])


def test_compact_extend_refuses_a_wrong_range():
    with pytest.raises(ValueError):
        compact_extend([], 3, LEAVES[:2])


def test_leaf_hashes_are_each_leaf_hash():
    entries = [b"", b"\x00", *(bytes.fromhex(x) for x in VECTORS["leaves"]), b"x" * 5000]
    assert leaf_hashes(entries) == [leaf_hash(e) for e in entries]
    assert leaf_hashes([]) == []
    assert leaf_hashes(entries[2 : 2 + len(LEAVES)]) == LEAVES
