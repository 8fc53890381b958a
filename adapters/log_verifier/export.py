"""Verifying an export of the log: every entry, the hash chain, the tree, every checkpoint.

An export is a directory written by ``ld-gateway audit export``:

- ``entries.jsonl``: one JSON object per line, ``{"seq", "leaf_hash", "entry"}``, where ``entry`` is
  the canonical entry text the leaf hash covers (``leaf_hash = SHA-256(0x00 || entry)``, hex);
- ``checkpoints.jsonl``: ``{"tree_size", "note"}`` per signed checkpoint, oldest first;
- ``manifest.json``: format, origin, counts (informative only: nothing in it is trusted).

Checks, streaming in one pass: entries are numbered 0, 1, 2, ... without gaps; each leaf hash is the
hash of its entry; each entry names its own position and links to the previous leaf hash (the first to
64 zeros); each checkpoint is signed by the log key, comes in increasing size, and its root is the root
of exactly that many entries; no checkpoint counts more entries than the export holds (a truncated
export). Checkpoints the auditor holds from elsewhere (a witness) must also match. The first failure is
reported with its entry or checkpoint.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from adapters.log_verifier.merkle import StreamingRoot, VerificationError, leaf_hash
from adapters.log_verifier.note import Checkpoint, LogKey, open_checkpoint

GENESIS = "0" * 64


@dataclass(frozen=True)
class ExportProblem:
    kind: str  # "entry" or "checkpoint"
    position: int  # the entry's seq, or the checkpoint's tree size
    message: str

    def __str__(self) -> str:
        return f"{self.kind} {self.position}: {self.message}"


@dataclass
class ExportReport:
    entries: int = 0
    checkpoints: int = 0
    root: str = ""
    problem: ExportProblem | None = None
    witnessed: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.problem is None


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, json.loads(line)


def _checkpoints(path: Path, key: LogKey) -> Iterator[tuple[int, Checkpoint | ExportProblem]]:
    last = 0
    for _number, item in _lines(path) if path.exists() else iter(()):
        size = int(item.get("tree_size", -1))
        try:
            cp = open_checkpoint(item["note"], key)
        except (VerificationError, KeyError, ValueError) as exc:
            yield size, ExportProblem("checkpoint", size, f"does not verify: {exc}")
            return
        if cp.size != size:
            yield size, ExportProblem("checkpoint", size, f"signed note says {cp.size} entries")
            return
        if size <= last:
            yield size, ExportProblem("checkpoint", size, f"out of order after checkpoint {last}")
            return
        last = size
        yield size, cp


def verify_export(
    directory: Path,
    key: LogKey,
    witnessed: Iterable[str] = (),
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    report = ExportReport()
    directory = Path(directory)
    external: dict[int, Checkpoint] = {}
    for note in witnessed:
        try:
            cp = open_checkpoint(note, key)
        except VerificationError as exc:
            report.problem = ExportProblem("checkpoint", -1, f"a witnessed checkpoint does not verify: {exc}")
            return report
        external[cp.size] = cp
    pending = _checkpoints(directory / "checkpoints.jsonl", key)
    due: list[tuple[int, Checkpoint | ExportProblem]] = []

    def next_checkpoint() -> tuple[int, Checkpoint | ExportProblem] | None:
        if not due:
            item = next(pending, None)
            if item is None:
                return None
            due.append(item)
        return due[0]

    tree = StreamingRoot()
    prev = GENESIS
    exported: set[int] = set()

    def check_at_size() -> ExportProblem | None:
        while (item := next_checkpoint()) is not None and item[0] <= tree.size:
            size, cp = due.pop(0)
            if isinstance(cp, ExportProblem):
                return cp
            if size < tree.size:
                return ExportProblem("checkpoint", size, "out of order")
            if not hmac.compare_digest(cp.root, tree.root()):
                return ExportProblem(
                    "checkpoint", size, f"signed root {cp.root.hex()} is not the root of the exported entries"
                )
            report.checkpoints += 1
            exported.add(size)
        if tree.size in external:
            if not hmac.compare_digest(external[tree.size].root, tree.root()):
                return ExportProblem("checkpoint", tree.size, "the witnessed checkpoint's root differs from the export")
            report.witnessed.append(tree.size)
        return None

    for number, item in _lines(directory / "entries.jsonl"):
        seq = item.get("seq")
        problem = _check_entry(item, tree.size, prev)
        if problem:
            report.problem = ExportProblem("entry", seq if isinstance(seq, int) else tree.size, problem)
            return report
        tree.add(bytes.fromhex(item["leaf_hash"]))
        prev = item["leaf_hash"]
        report.entries = tree.size
        if progress and number % 10_000 == 0:
            progress(tree.size)
        if (problem_cp := check_at_size()) is not None:
            report.problem = problem_cp
            return report
    if tree.size == 0 and (problem_cp := check_at_size()) is not None:
        report.problem = problem_cp
        return report
    leftover = next_checkpoint()
    if leftover is not None:
        size, last = leftover
        report.problem = (
            last
            if isinstance(last, ExportProblem)
            else ExportProblem(
                "checkpoint", size, f"covers {size} entries, the export holds {tree.size} (entries removed)"
            )
        )
        return report
    missing = sorted(s for s in external if s > tree.size)
    if missing:
        report.problem = ExportProblem(
            "checkpoint", missing[0], f"witnessed, but the export holds only {tree.size} entries (entries removed)"
        )
        return report
    absent = sorted(set(external) - exported)
    if absent:
        # The export's entries match it, but a checkpoint the log signed was left out of the export.
        report.problem = ExportProblem("checkpoint", absent[0], "held by the witness, missing from the export")
        return report
    report.root = tree.root().hex()
    if progress:
        progress(tree.size)
    return report


def _check_entry(item: dict[str, Any], expected: int, prev: str) -> str | None:
    seq, text, stored = item.get("seq"), item.get("entry"), item.get("leaf_hash")
    if seq != expected:
        return f"expected entry {expected} next, found entry {seq} (missing, inserted or reordered entries)"
    if not isinstance(text, str) or not isinstance(stored, str) or len(stored) != 64:
        return "line lacks entry text or leaf hash"
    computed = leaf_hash(text.encode("utf-8")).hex()
    if not hmac.compare_digest(computed, stored):
        return f"leaf hash {stored[:16]}… is not the hash of the entry ({computed[:16]}…): entry modified"
    try:
        data = json.loads(text)
    except ValueError:
        return "entry is not JSON"
    if data.get("seq") != expected:
        return f"entry says it is entry {data.get('seq')} (moved)"
    if not hmac.compare_digest(str(data.get("prev_hash", "")), prev):
        return f"does not link to entry {expected - 1}"
    return None
