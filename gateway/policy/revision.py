"""The policy revision: one hash naming exactly the policy that made a decision.

Every decision carries it, so an IG reviewer can later say which rules and data released a field. The
directory is read, and its revision computed, by gateway/policy/source.py.
The hash covers every production ``.rego`` module, ``data.json`` and the field catalogue ids, because
all three change what is released. Unit tests (``*_test.rego``) are left out: they change no decision.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

DATA_FILE = "data.json"
TEST_SUFFIX = "_test.rego"

# Bumped only if the way of hashing changes, so old and new revisions can never collide.
_DOMAIN = b"ld-gateway/policy-revision/v1\n"


def policy_modules(policy_dir: Path) -> list[Path]:
    """Every production Rego module under ``policy_dir``, in a stable order (tests excluded)."""
    return sorted(
        (p for p in policy_dir.rglob("*.rego") if p.is_file() and not p.name.endswith(TEST_SUFFIX)),
        key=lambda p: p.relative_to(policy_dir).as_posix(),
    )


def rego_test_modules(policy_dir: Path) -> list[Path]:
    """Every Rego unit-test module (``*_test.rego``) under ``policy_dir``, in a stable order."""
    return sorted(
        (p for p in policy_dir.rglob("*" + TEST_SUFFIX) if p.is_file()),
        key=lambda p: p.relative_to(policy_dir).as_posix(),
    )


def revision_of(files: Sequence[tuple[str, bytes]], catalogue_ids: Sequence[str]) -> str:
    """``sha256:<hex>`` over the sorted (relative path, bytes) of each module and data.json, then the catalogue.

    Each part is length-prefixed, so no two different policies can produce the same byte stream. Taking
    the files already read lets a caller hash exactly the bytes it goes on to store.
    """
    digest = hashlib.sha256(_DOMAIN)
    for rel, content in sorted(files):
        name = rel.encode("utf-8")
        digest.update(b"file %d %d\n" % (len(name), len(content)))
        digest.update(name)
        digest.update(content)
    catalogue = json.dumps(list(catalogue_ids), separators=(",", ":"), ensure_ascii=True).encode("ascii")
    digest.update(b"catalogue %d\n" % len(catalogue))
    digest.update(catalogue)
    return "sha256:" + digest.hexdigest()
