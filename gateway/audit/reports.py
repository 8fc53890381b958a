"""What IG takes away from the log: the CSV export and the subject access report. Pure: they shape
:class:`gateway.audit.queries.DisclosureRecord` values and read nothing else."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from gateway.audit.queries import DisclosureRecord

CSV_COLUMNS = (
    "seq",
    "disclosure_id",
    "created_at",
    "event",
    "outcome",
    "agency_code",
    "agency_type",
    "client_id",
    "purpose",
    "assessment_id",
    "assessment_version",
    "released",
    "withheld",
    "reason",
    "override",
    "ig_review",
    "policy_revision",
    "body_sha256",
    "leaf_hash",
)


def to_csv_rows(records: Iterable[DisclosureRecord]) -> Iterator[list[str]]:
    """A header row, then one row per record (lists space-separated; withheld as ``field:rule``)."""
    yield list(CSV_COLUMNS)
    for r in records:
        values = r.to_json()
        values["released"] = " ".join(r.released)
        values["withheld"] = " ".join(f"{w['field']}:{w['rule']}" for w in r.withheld)
        yield [
            "" if values[c] is None else str(values[c]).lower() if isinstance(values[c], bool) else str(values[c])
            for c in CSV_COLUMNS
        ]


def subject_report(records: Iterable[DisclosureRecord]) -> dict[str, Any]:
    """The subject access report: every disclosure about the person (and every refusal), oldest first."""
    items = [
        {
            "disclosure_id": r.disclosure_id,
            "when": r.created_at.isoformat(),
            "recipient": {"agency_code": r.agency_code, "agency_type": r.agency_type, "client_id": r.client_id},
            "purpose": r.purpose,
            "outcome": r.outcome,
            "assessment": {"id": r.assessment_id, "version": r.assessment_version} if r.assessment_id else None,
            "released": r.released,
            "withheld": r.withheld,
            "basis": {
                "policy_revision": r.policy_revision,
                "consent_status": r.consent_status,
                "overrides": r.overrides,
            },
            "reason": r.reason,
        }
        for r in records
    ]
    released = [i for i in items if i["outcome"] == "released"]
    return {
        "disclosures": len(released),
        "refusals": len(items) - len(released),
        "recipients": sorted({i["recipient"]["agency_code"] for i in released if i["recipient"]["agency_code"]}),
        "entries": items,
    }
