"""Writing an export of the log for an offline auditor (read by ``adapters/log_verifier``).

Entries hold no personal data (keyed hashes and body hashes only), so an export can leave the
gateway; the format is described in ``adapters/log_verifier/export.py`` and docs/audit.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.audit import checkpoints, log
from gateway.audit.c2sp_note import NoteVerifier

FORMAT = "ld-gateway-log-export/1"


@dataclass(frozen=True)
class ExportSummary:
    entries: int
    checkpoints: int


def write_export(
    session: Session, directory: Path, verifier: NoteVerifier, progress: Callable[[int], None] | None = None
) -> ExportSummary:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("entries.jsonl", "checkpoints.jsonl", "manifest.json", "log-key.vkey"):
        if (directory / name).exists():
            raise FileExistsError(f"{directory / name} exists; export into an empty directory")
    # Checkpoints first: every one of them is then covered by the entries written after.
    signed = checkpoints.iter_checkpoints(session)
    with (directory / "checkpoints.jsonl").open("w", encoding="utf-8") as out:
        for cp in signed:
            out.write(json.dumps({"tree_size": cp.tree_size, "note": cp.note}, ensure_ascii=False) + "\n")
    count = 0
    with (directory / "entries.jsonl").open("w", encoding="utf-8") as out:
        for row in log.iter_rows(session):
            out.write(json.dumps({"seq": row.seq, "leaf_hash": row.leaf_hash, "entry": row.entry}, ensure_ascii=False))
            out.write("\n")
            count += 1
            if progress and count % 10_000 == 0:
                progress(count)
    (directory / "log-key.vkey").write_text(verifier.vkey() + "\n", encoding="utf-8")
    manifest = {
        "format": FORMAT,
        "origin": verifier.name,
        "entries": count,
        "checkpoints": len(signed),
        "exported_at": datetime.now(UTC).isoformat(),
    }
    (directory / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return ExportSummary(count, len(signed))
