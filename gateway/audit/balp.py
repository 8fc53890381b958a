"""A log entry as a FHIR R4 AuditEvent in the IHE Basic Audit Log Patterns (BALP) Read shape.

Pure: it renders a :class:`gateway.audit.queries.DisclosureRecord` and reads nothing else.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from gateway.audit.queries import DisclosureRecord

LOCAL = "https://ld-gateway.example/fhir"
BALP_READ = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.Read"


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
