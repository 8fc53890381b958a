"""IG queries over the disclosure log: pure query functions taking a Session (stable API; the IG pages
of issue 7 call these).

- :func:`list_disclosures` — entries matching a :class:`DisclosureFilter`, newest first, a page at a
  time with keyset pagination (the cursor is the last ``seq`` seen; pages never shift as the log grows).
- :func:`get_disclosure` — one entry by disclosure id, with released and withheld fields and reasons.
- :func:`iter_disclosures` — every matching entry, for exports (CSV, FHIR AuditEvent).
- :func:`subject_keys` — the keys under which the log names a person found by NHS number.
- :func:`to_csv_rows`, :func:`audit_event` — export shapes.

Filters on indexed columns run in SQL; the override flag lives only in the hashed entry, so it is
applied to each fetched batch (a filtered page may read more than ``limit`` rows to fill itself).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from gateway.assessments import store
from gateway.db.models import DisclosureLogEntry
from gateway.keys import KeyRing

LOCAL = "https://ld-gateway.example/fhir"
BALP_READ = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read"
MAX_LIMIT = 500


@dataclass(frozen=True)
class DisclosureFilter:
    """All given filters must hold. ``subject_keys``: any of them (see :func:`subject_keys`)."""

    subject_keys: tuple[str, ...] | None = None
    agency_code: str | None = None
    client_id: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    override: bool | None = None  # True: only entries that relied on a lawful override


@dataclass(frozen=True)
class DisclosureRecord:
    """One log entry as IG sees it: everything in the hashed entry, plus its position and leaf hash."""

    seq: int
    leaf_hash: str
    disclosure_id: str
    event: str
    outcome: str
    created_at: datetime
    client_id: str | None
    agency_code: str | None
    agency_type: str | None
    purpose: str | None
    subject_key: str | None
    assessment_id: str | None
    assessment_version: int | None
    released: list[str]
    withheld: list[dict[str, str]]
    policy_revision: str | None
    decision_id: str | None
    body_sha256: str | None
    reason: str | None
    consent_status: str | None = None
    overrides: list[dict[str, str]] = field(default_factory=list)
    ig_review: bool = False
    consent_scope: dict[str, Any] | None = None

    @property
    def override(self) -> bool:
        return bool(self.overrides)

    def to_json(self) -> dict[str, Any]:
        data = {k: getattr(self, k) for k in self.__dataclass_fields__}
        data["created_at"] = self.created_at.isoformat()
        data["override"] = self.override
        return data


@dataclass(frozen=True)
class Page:
    items: list[DisclosureRecord]
    next_cursor: int | None  # pass as ``before`` for the next (older) page; None at the end


def _record(row: DisclosureLogEntry) -> DisclosureRecord:
    data = json.loads(row.entry)
    created = datetime.fromisoformat(data["created_at"])
    return DisclosureRecord(
        seq=row.seq,
        leaf_hash=row.leaf_hash,
        disclosure_id=data["disclosure_id"],
        event=data["event"],
        outcome=data["outcome"],
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        client_id=data.get("client_id"),
        agency_code=data.get("agency_code"),
        agency_type=data.get("agency_type"),
        purpose=data.get("purpose"),
        subject_key=data.get("subject_key"),
        assessment_id=data.get("assessment_id"),
        assessment_version=data.get("assessment_version"),
        released=list(data.get("released", [])),
        withheld=[dict(w) for w in data.get("withheld", [])],
        policy_revision=data.get("policy_revision"),
        decision_id=data.get("decision_id"),
        body_sha256=data.get("body_sha256"),
        reason=data.get("reason"),
        consent_status=data.get("consent_status"),
        overrides=[dict(o) for o in data.get("overrides", [])],
        ig_review=bool(data.get("ig_review", False)),
        consent_scope=data.get("consent_scope"),
    )


def _query(filters: DisclosureFilter) -> Select[tuple[DisclosureLogEntry]]:
    q = select(DisclosureLogEntry)
    col = DisclosureLogEntry
    if filters.subject_keys is not None:
        q = q.where(col.subject_key.in_(filters.subject_keys))
    for name in ("agency_code", "client_id", "purpose", "outcome"):
        value = getattr(filters, name)
        if value is not None:
            q = q.where(getattr(col, name) == value)
    if filters.since is not None:
        q = q.where(col.created_at >= filters.since)
    if filters.until is not None:
        q = q.where(col.created_at < filters.until)
    return q


def _keep(record: DisclosureRecord, filters: DisclosureFilter) -> bool:
    return filters.override is None or record.override == filters.override


def list_disclosures(
    session: Session, filters: DisclosureFilter, *, limit: int = 50, before: int | None = None
) -> Page:
    """Matching entries, newest first; ``before`` is the cursor from the previous page."""
    limit = max(1, min(limit, MAX_LIMIT))
    items: list[DisclosureRecord] = []
    cursor = before
    while len(items) < limit:
        q = _query(filters)
        if cursor is not None:
            q = q.where(DisclosureLogEntry.seq < cursor)
        rows = session.execute(q.order_by(DisclosureLogEntry.seq.desc()).limit(limit)).scalars().all()
        for row in rows:
            cursor = row.seq
            record = _record(row)
            if _keep(record, filters):
                items.append(record)
                if len(items) == limit:
                    break
        if len(rows) < limit:
            return Page(items, None)
    more = _query(filters).where(DisclosureLogEntry.seq < items[-1].seq).limit(1)
    return Page(items, items[-1].seq if session.execute(more).first() else None)


def iter_disclosures(session: Session, filters: DisclosureFilter, batch: int = 1000) -> Iterator[DisclosureRecord]:
    """Every matching entry, oldest first (exports)."""
    last = -1
    while True:
        q = _query(filters).where(DisclosureLogEntry.seq > last).order_by(DisclosureLogEntry.seq).limit(batch)
        rows = session.execute(q).scalars().all()
        if not rows:
            return
        for row in rows:
            record = _record(row)
            if _keep(record, filters):
                yield record
        last = rows[-1].seq


def get_disclosure(session: Session, disclosure_id: str) -> DisclosureRecord | None:
    row = session.execute(
        select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
    ).scalar_one_or_none()
    return None if row is None else _record(row)


def subject_keys(session: Session, keyring: KeyRing, nhs_number: str) -> tuple[str, ...]:
    """The log's keys for a person: their subject key when known, and the keyed hash of the NHS number
    itself (under which searches for a person the gateway did not know are logged)."""
    keys = [keyring.identifier_hmac(store.NHS_NUMBER, nhs_number)]
    subject_id = store.find_subject_id(session, keyring, store.NHS_NUMBER, nhs_number)
    if subject_id is not None:
        keys.append(keyring.identifier_hmac("subject", subject_id))
    return tuple(keys)


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


def audit_event(record: DisclosureRecord) -> dict[str, Any]:
    """The entry as a FHIR R4 AuditEvent in the IHE BALP Read shape (a document read by an agency).

    The patient is named by the log's keyed hash only: an export carries no more personal data than
    the log itself.
    """
    dcm = "http://dicom.nema.org/resources/ontology/DCM"
    success = record.outcome == "released"
    entity_detail = [{"type": "released", "valueString": " ".join(record.released) or "(none)"}]
    entity_detail += [
        {"type": f"withheld:{w['field']}", "valueString": f"{w['rule']}: {w['reason']}"} for w in record.withheld
    ]
    if record.policy_revision:
        entity_detail.append({"type": "policy-revision", "valueString": record.policy_revision})
    entities: list[dict[str, Any]] = []
    if record.subject_key:
        entities.append(
            {
                "what": {"identifier": {"system": f"{LOCAL}/log-subject-key", "value": record.subject_key}},
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "1",
                    "display": "Person",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "1",
                    "display": "Patient",
                },
            }
        )
    document: dict[str, Any] = {
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
            "code": "2",
            "display": "System Object",
        },
        "role": {
            "system": "http://terminology.hl7.org/CodeSystem/object-role",
            "code": "4",
            "display": "Domain Resource",
        },
        "detail": entity_detail,
    }
    if record.assessment_id:
        document["what"] = {"reference": f"Bundle/{record.assessment_id}"}
    entities.append(document)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record.disclosure_id,
        "meta": {"profile": [BALP_READ]},
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": "read", "display": "read"}],
        "action": "R",
        "recorded": record.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "outcome": "0" if success else "4",
        "agent": [
            {
                "type": {"coding": [{"system": dcm, "code": "110153", "display": "Source Role ID"}]},
                "who": {"display": "ld-gateway"},
                "requestor": False,
            },
            {
                "type": {"coding": [{"system": dcm, "code": "110152", "display": "Destination Role ID"}]},
                "who": {
                    "identifier": {"system": f"{LOCAL}/client-id", "value": record.client_id or "unknown"},
                    "display": record.agency_code or "unknown agency",
                },
                "requestor": True,
            },
        ],
        "source": {
            "observer": {"display": "ld-gateway"},
            "type": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                    "code": "4",
                    "display": "Application Server",
                }
            ],
        },
        "entity": entities,
    }
    if not success and record.reason:
        event["outcomeDesc"] = record.reason
    if record.purpose:
        event["purposeOfEvent"] = [{"coding": [{"system": f"{LOCAL}/purpose-of-use", "code": record.purpose}]}]
    return event


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
