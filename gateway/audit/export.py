"""Exports of the log: the whole log for an offline auditor (:func:`write_export`, read by
``adapters/log_verifier``), and the CSV of a query's entries for IG (:func:`to_csv_rows`).

Entries hold no personal data (keyed hashes and body hashes only), so an export can leave the
gateway; the format is described in ``adapters/log_verifier/export.py`` and docs/audit.md. The CSV
carries what the FHIR AuditEvent export says (``balp.py``): the event's type and BALP outcome code, the
purpose in HL7 v3 PurposeOfUse beside the local code, released and withheld fields, the consent the
decision saw, and the overrides and lawful basis it relied on.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from gateway.audit import balp, checkpoints, log
from gateway.audit.c2sp_note import NoteVerifier
from gateway.audit.queries import DisclosureRecord

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


CSV_COLUMNS = (
    "seq",
    "disclosure_id",
    "created_at",
    "event",
    "event_type",
    "action",
    "outcome",
    "outcome_code",
    "agency_code",
    "agency_type",
    "client_id",
    "purpose",
    "purpose_of_use",
    "assessment_id",
    "assessment_version",
    "released",
    "withheld",
    "consent_status",
    "override",
    "override_basis",
    "lawful_basis",
    "reason",
    "diagnostic_term_warnings",
    "ig_review",
    "policy_revision",
    "body_sha256",
    "leaf_hash",
)


def to_csv_rows(records: Iterable[DisclosureRecord]) -> Iterator[list[str]]:
    """A header row, then one row per record. Lists are space-separated: withheld as ``field:rule``,
    override bases as ``id:basis``; ``event_type`` is the AuditEvent's ``type`` code and its subtypes,
    ``purpose_of_use`` the HL7 v3 code (empty where none fits)."""
    yield list(CSV_COLUMNS)
    for r in records:
        shape = balp.shape_of(r)
        v3 = [c["code"] for c in balp.purpose_codings(r.purpose) if c["system"] == balp.ACT_REASON]
        values = r.to_json()
        values.update(
            event_type=" ".join([shape.type["code"], *(c["code"] for c in shape.subtype)]),
            action=shape.action,
            outcome_code=balp.outcome_code(r),
            purpose_of_use=" ".join(v3),
            released=" ".join(r.released),
            withheld=" ".join(f"{w['field']}:{w['rule']}" for w in r.withheld),
            override_basis=" ".join(f"{o.get('id', '')}:{o.get('basis', '')}" for o in r.overrides),
            lawful_basis=balp.lawful_basis_text(r),
            diagnostic_term_warnings=r.entry.get("diagnostic_term_warnings"),
        )
        yield [_cell(values.get(c)) for c in CSV_COLUMNS]


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
