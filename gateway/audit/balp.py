"""A log entry as a FHIR R4 AuditEvent, in the shapes of IHE Basic Audit Log Patterns (BALP).

Pure: it renders a :class:`gateway.audit.queries.DisclosureRecord` and reads nothing else.

Every event the log records (``events.AuditEvent``) has its own shape (:data:`SHAPES`): a document
released is a *Read* of that document (``rest`` / ``read``, action ``R``); a search that produced no
document (a refused search) is a *Query* (``rest`` / ``search-type``, action ``E``); a publish is a
*Create* (version 1) or an *Update*; a lawful override recorded is a *Create* of the override; court
requests are *Create*/*Update* of a Task; staff and operator actions are DICOM events (``110114`` User
Authentication, ``110101`` Audit Log Used, ``110110`` Patient Record, ``110113`` Security Alert).
Every event also carries its own name as a subtype in the gateway's code system, so nothing is lost.

Outcome (FHIR ``audit-event-outcome``): ``0`` success; ``4`` minor failure for a refusal the rules
made (no case link, policy, bad input: the caller can act on it); ``8`` serious failure when the
gateway itself failed (an internal or policy-engine error, a document it could not render).

``meta.profile`` claims a BALP profile only where the event meets it: a success (BALP records failures
"differently"), whose shape has a profile, and whose every required element is there: both agents'
``network`` (the gateway's from its issuer, the caller's from the entry; older entries recorded none),
and the patient. A refused read is rendered in the Read shape but claims nothing. A search never claims
PatientQuery: that profile requires the raw query (``entity.query``), and the log keeps no query
string, since it names the person.

The patient is named by the log's keyed hash only: an export carries no more personal data than the
log itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from gateway.audit.events import AuditEvent
from gateway.audit.queries import DisclosureRecord

LOCAL = "https://ld-gateway.example/fhir"
EVENT_SYSTEM = f"{LOCAL}/CodeSystem/audit-event"
PURPOSE_SYSTEM = f"{LOCAL}/purpose-of-use"
PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = "http://hl7.org/fhir/restful-interaction"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"

#: Our purposes of use in HL7 v3 PurposeOfUse (v3-ActReason, is-a PurposeOfUse), where one fits. The
#: criminal-justice decisions (custody, charging, case management, sentencing) are uses "required by a
#: legal proceeding": HLEGAL; a referral to health or social care is TREAT. The local code goes beside it.
PURPOSE_OF_USE: Mapping[str, tuple[str, str]] = {
    "custody": ("HLEGAL", "legal"),
    "charging": ("HLEGAL", "legal"),
    "case-management": ("HLEGAL", "legal"),
    "sentencing": ("HLEGAL", "legal"),
    "health-referral": ("TREAT", "treatment"),
}

#: Refusals that are the gateway's own failure, not a rule applied to the caller: outcome 8.
SERIOUS_FAILURES = frozenset(
    {
        "internal-error",
        "render-error",
        "policy-error",
        "policy-undefined",
        "policy-malformed",
        "policy-unknown-field",
        "policy-contradiction",
        "undefined",
    }
)
#: Refusals of a pull that are about the search itself, not about a document (when the entry does not
#: say which interaction it was).
SEARCH_REASONS = frozenset({"bad-search-parameter", "bad-search-form", "unknown-subject", "multiple-matches"})


def _coding(system: str, code: str, display: str) -> dict[str, str]:
    return {"system": system, "code": code, "display": display}


_REST_TYPE = _coding("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation")
_AUTHENTICATION = _coding(DCM, "110114", "User Authentication")
_AUDIT_LOG_USED = _coding(DCM, "110101", "Audit Log Used")
_PATIENT_RECORD = _coding(DCM, "110110", "Patient Record")
_SECURITY_ALERT = _coding(DCM, "110113", "Security Alert")
_LOGIN = _coding(DCM, "110122", "Login")
_LOGOUT = _coding(DCM, "110123", "Logout")
_RESTRICTED = _coding(DCM, "110132", "Use of Restricted Function")
_USER_SECURITY = _coding(DCM, "110137", "User security Attributes Changed")
_SECURITY_CONFIG = _coding(DCM, "110129", "Security Configuration")
_READ = _coding(REST, "read", "read")
_SEARCH = _coding(REST, "search-type", "search type")
_CREATE = _coding(REST, "create", "create")
_UPDATE = _coding(REST, "update", "update")


@dataclass(frozen=True)
class Shape:
    """How one event is told in AuditEvent terms.

    ``flow``: ``pull`` when data flows from the gateway to the caller (a read: BALP makes the caller the
    Destination Role ID), ``push`` when the caller sends (a query, a create: the caller is the Source
    Role ID). ``profile``: the BALP profile (without its prefix) a success of this event meets when
    every element it requires is present; ``object``: what the data entity names.
    """

    type: Mapping[str, str]
    subtype: tuple[Mapping[str, str], ...]
    action: str
    flow: str = "push"
    profile: str | None = None
    object: str | None = None


_TASK_UPDATE = Shape(_REST_TYPE, (_UPDATE,), "U", object="task")
_STAFF_AUDIT = Shape(_AUDIT_LOG_USED, (), "R")
_IDENTITY = Shape(_PATIENT_RECORD, (), "U")

SHAPES: Mapping[AuditEvent, Shape] = {
    AuditEvent.BUNDLE_RELEASED: Shape(_REST_TYPE, (_READ,), "R", "pull", "PatientRead", "document"),
    AuditEvent.BUNDLE_DENIED: Shape(_REST_TYPE, (_READ,), "R", "pull", None, "document"),
    AuditEvent.TOKEN_DENIED: Shape(_AUTHENTICATION, (_LOGIN,), "E"),
    AuditEvent.PUBLISH_DENIED: Shape(_REST_TYPE, (_CREATE,), "C", object="assessment"),
    AuditEvent.PUBLISH_ACCEPTED: Shape(_REST_TYPE, (_CREATE,), "C", profile="PatientCreate", object="assessment"),
    AuditEvent.PUBLISH_IMPORTED: Shape(_REST_TYPE, (_CREATE,), "C", profile="PatientCreate", object="assessment"),
    AuditEvent.OVERRIDE_RECORDED: Shape(_REST_TYPE, (_CREATE,), "C", profile="PatientCreate", object="override"),
    AuditEvent.OVERRIDE_DENIED: Shape(_REST_TYPE, (_CREATE,), "C", object="override"),
    AuditEvent.AUDIT_DENIED: Shape(_AUDIT_LOG_USED, (), "E"),
    AuditEvent.SUBJECT_REPORT_SIGNED_OFF: Shape(_AUDIT_LOG_USED, (), "C"),
    AuditEvent.TASK_CREATED: Shape(_REST_TYPE, (_CREATE,), "C", object="task"),
    AuditEvent.TASK_ACCEPTED: _TASK_UPDATE,
    AuditEvent.TASK_REJECTED: _TASK_UPDATE,
    AuditEvent.TASK_COMPLETED: _TASK_UPDATE,
    AuditEvent.TASK_DENIED: Shape(_REST_TYPE, (), "E", object="task"),
    AuditEvent.EVENTS_DENIED: Shape(_REST_TYPE, (), "E"),
    AuditEvent.IG_SIGNIN: Shape(_AUTHENTICATION, (_LOGIN,), "E"),
    AuditEvent.IG_SIGNIN_FAILED: Shape(_AUTHENTICATION, (_LOGIN,), "E"),
    AuditEvent.IG_LOCKED: Shape(_SECURITY_ALERT, (_USER_SECURITY,), "U"),
    AuditEvent.IG_SIGNOUT: Shape(_AUTHENTICATION, (_LOGOUT,), "E"),
    AuditEvent.IG_REFUSED: Shape(_SECURITY_ALERT, (_RESTRICTED,), "E"),
    AuditEvent.IG_SEARCH: Shape(_AUDIT_LOG_USED, (), "E"),
    AuditEvent.IG_VIEW: _STAFF_AUDIT,
    AuditEvent.IG_SUBJECT_REPORT: _STAFF_AUDIT,
    AuditEvent.IG_VERIFY: Shape(_AUDIT_LOG_USED, (), "E"),
    AuditEvent.IG_CLIENT_REVOKE: Shape(_SECURITY_ALERT, (_USER_SECURITY,), "U"),
    AuditEvent.IG_OVERRIDE_REVIEW: Shape(_PATIENT_RECORD, (), "U", object="override"),
    AuditEvent.POLICY_ACTIVATED: Shape(_SECURITY_ALERT, (_SECURITY_CONFIG,), "U"),
    AuditEvent.SUBJECT_MERGED: _IDENTITY,
    AuditEvent.SUBJECT_UNMERGED: _IDENTITY,
    AuditEvent.SUBJECT_IDENTITY_ACCEPTED: _IDENTITY,
    AuditEvent.SUBJECT_IDENTIFIER_DETACHED: _IDENTITY,
    AuditEvent.SUBJECT_ERASED: Shape(_PATIENT_RECORD, (), "D"),
}
_QUERY = Shape(_REST_TYPE, (_SEARCH,), "E", "push", None, None)
#: An event this version does not know (a newer log read by an older gateway): told as what it is.
_UNKNOWN = Shape(_coding(DCM, "110100", "Application Activity"), (), "E")

_PATIENT_ROLE = {"type": _coding(ENTITY_TYPE, "1", "Person"), "role": _coding(OBJECT_ROLE, "1", "Patient")}


def shape_of(record: DisclosureRecord) -> Shape:
    """The event's shape. A search refused before any document was in question (a bad parameter, a
    person nobody knows, no case link) is a Query; a document released, or refused by the policy, is a
    Read of that document however it was asked for."""
    try:
        shape = SHAPES[AuditEvent(record.event)]
    except ValueError:
        return _UNKNOWN
    if record.event == AuditEvent.BUNDLE_DENIED and _interaction(record) == "search" and record.assessment_id is None:
        return _QUERY
    if record.event == AuditEvent.PUBLISH_ACCEPTED and (record.assessment_version or 1) > 1:
        return Shape(_REST_TYPE, (_UPDATE,), "U", "push", "PatientUpdate", "assessment")
    return shape


def _interaction(record: DisclosureRecord) -> str | None:
    given = record.entry.get("interaction")
    if isinstance(given, str):
        return given
    if record.event == AuditEvent.BUNDLE_DENIED and record.assessment_id is None and record.reason in SEARCH_REASONS:
        return "search"
    return None


def outcome_code(record: DisclosureRecord) -> str:
    """``audit-event-outcome``: 0 success, 4 a refusal by rule, 8 the gateway's own failure."""
    if record.outcome != "denied":
        return "0"
    return "8" if (record.reason or "").split(":", 1)[0] in SERIOUS_FAILURES else "4"


def purpose_codings(purpose: str | None) -> list[dict[str, str]]:
    """HL7 v3 PurposeOfUse where one fits, then always the gateway's own purpose code."""
    if not purpose:
        return []
    codings = []
    if purpose in PURPOSE_OF_USE:
        code, display = PURPOSE_OF_USE[purpose]
        codings.append(_coding(ACT_REASON, code, display))
    codings.append({"system": PURPOSE_SYSTEM, "code": purpose})
    return codings


def _network(address: str | None, kind: str) -> dict[str, str] | None:
    return None if not address else {"address": address, "type": kind}


def _agents(record: DisclosureRecord, shape: Shape, server: str | None) -> list[dict[str, Any]]:
    source = {"coding": [_coding(DCM, "110153", "Source Role ID")]}
    destination = {"coding": [_coding(DCM, "110152", "Destination Role ID")]}
    caller_type, gateway_type = (destination, source) if shape.flow == "pull" else (source, destination)
    gateway: dict[str, Any] = {"type": gateway_type, "who": {"display": "ld-gateway"}, "requestor": False}
    host = urlsplit(server).hostname if server else None
    if server:
        gateway["who"]["identifier"] = {"system": "urn:ietf:rfc:3986", "value": server}
    if host:
        gateway["network"] = _network(host, "1")  # machine name
    caller: dict[str, Any] = {
        "type": caller_type,
        "who": {
            "identifier": {"system": f"{LOCAL}/client-id", "value": record.client_id or "unknown"},
            "display": record.agency_code or ("gateway staff" if _is_staff(record) else "unknown agency"),
        },
        "requestor": True,
    }
    network = record.entry.get("network")
    if isinstance(network, str) and network:
        caller["network"] = _network(network, "2")  # IP address, as the gateway saw the connection
    if record.purpose:
        caller["purposeOfUse"] = [{"coding": purpose_codings(record.purpose)}]
    return [gateway, caller]


def _is_staff(record: DisclosureRecord) -> bool:
    return (record.client_id or "").startswith("staff:")


def _detail(record: DisclosureRecord) -> list[dict[str, str]]:
    """Entity detail: what was released and withheld, the consent the decision saw, the overrides and
    lawful basis it relied on, and the policy revision. Field ids and codes only: no content."""
    detail: list[dict[str, str]] = []
    if record.event in (AuditEvent.BUNDLE_RELEASED, AuditEvent.BUNDLE_DENIED):
        detail.append({"type": "released", "valueString": " ".join(record.released) or "(none)"})
    detail += [
        {"type": f"withheld:{w['field']}", "valueString": f"{w['rule']}: {w['reason']}"} for w in record.withheld
    ]
    if record.consent_status:
        detail.append({"type": "consent-status", "valueString": record.consent_status})
    detail += [{"type": f"override:{o.get('id', '')}", "valueString": o.get("basis", "")} for o in record.overrides]
    lawful = lawful_basis_text(record)
    if lawful:
        detail.append({"type": "lawful-basis", "valueString": lawful})
    warnings = record.entry.get("diagnostic_term_warnings")
    if isinstance(warnings, int):
        detail.append({"type": "diagnostic-term-warnings", "valueString": str(warnings)})
    if record.ig_review:
        detail.append({"type": "ig-review", "valueString": "required"})
    if record.assessment_version is not None:
        detail.append({"type": "assessment-version", "valueString": str(record.assessment_version)})
    if record.policy_revision:
        detail.append({"type": "policy-revision", "valueString": record.policy_revision})
    if record.body_sha256:
        detail.append({"type": "body-sha256", "valueString": record.body_sha256})
    return detail


def lawful_basis_text(record: DisclosureRecord) -> str:
    """The entry's lawful basis, where it records one (one basis or a list of them, each an object or a
    text), as ``key=value`` pairs, bases separated by ``; ``."""
    value = record.entry.get("lawful_basis")
    if not value:
        return ""
    items = value if isinstance(value, list) else [value]
    return "; ".join(_pairs(item) for item in items if item)


#: Lawful-basis keys that entries written before keyed commitments carried, and that no reader passes on
#: to a partner or a requester: the practitioner's name, and a reason hash that guessing can confirm.
HIDDEN_BASIS_KEYS = frozenset({"recorded_by", "reason_sha256"})


def _pairs(value: Any) -> str:
    if isinstance(value, Mapping):
        return " ".join(
            f"{k}={value[k]}"
            for k in sorted(value)
            if k not in HIDDEN_BASIS_KEYS and value[k] not in (None, "", [], {})
        )
    return str(value)


def _entities(record: DisclosureRecord, shape: Shape) -> list[dict[str, Any]]:
    entities: list[dict[str, Any]] = []
    if record.subject_key:
        patient = {"type": "Patient", "identifier": {"system": f"{LOCAL}/log-subject-key", "value": record.subject_key}}
        entities.append({"what": patient} | _PATIENT_ROLE)
    data: dict[str, Any] = {"type": _coding(ENTITY_TYPE, "2", "System Object")}
    if shape is _QUERY:
        # BALP's query entity (role 24) holds the search itself; the log keeps no query string (it names
        # the person), so only what kind of search it was.
        data["role"] = _coding(OBJECT_ROLE, "24", "Query")
        data["description"] = "GET|POST /fhir/Bundle by patient identifier (parameters not kept)"
        entities.append(data)
        return entities
    data["role"] = _coding(OBJECT_ROLE, "4", "Domain Resource")
    what = _what(record, shape)
    if what:
        data["what"] = what
    detail = _detail(record)
    if detail:
        data["detail"] = detail
    if what or detail:
        entities.append(data)
    return entities


def _what(record: DisclosureRecord, shape: Shape) -> dict[str, Any] | None:
    if shape.object == "override" and record.overrides:
        return {"identifier": {"system": f"{LOCAL}/override", "value": record.overrides[0].get("id", "")}}
    if shape.object == "task" and record.decision_id:
        return {"reference": f"Task/{record.decision_id}"}
    if record.assessment_id:
        # The assessment (Composition.identifier's value), not a Bundle id: every disclosed document is
        # its own Bundle, and the entry keeps only its hash.
        return {
            "identifier": {"system": f"{LOCAL}/assessment", "value": record.assessment_id},
            "display": f"assessment {record.assessment_id} version {record.assessment_version}",
        }
    if record.reason and ":" in record.reason and record.outcome != "denied":
        kind, _, value = record.reason.partition(":")  # a staff action's reference (audit/reasons.py)
        return {"identifier": {"system": f"{LOCAL}/{kind}", "value": value}}
    return None


def claimed_profile(event: dict[str, Any], shape: Shape, outcome: str) -> str | None:
    """The BALP profile this rendered event meets, or None: see the module docstring."""
    if shape.profile is None or outcome != "0":
        return None
    agents = event["agent"]
    if len(agents) < 2 or not all(a.get("network") and a.get("who") for a in agents):
        return None
    patient = [e for e in event["entity"] if e.get("role", {}).get("code") == "1" and e.get("what")]
    data = [e for e in event["entity"] if e.get("role", {}).get("code") == "4" and e.get("what")]
    return PROFILE + shape.profile if patient and data else None


def audit_event(record: DisclosureRecord, *, server: str | None = None) -> dict[str, Any]:
    """The entry as a FHIR R4 AuditEvent in its BALP shape; ``server`` is the gateway's base URL."""
    shape = shape_of(record)
    outcome = outcome_code(record)
    subtype = [dict(c) for c in shape.subtype]
    if _interaction(record) == "search" and shape.flow == "pull" and _SEARCH not in subtype:
        subtype.append(dict(_SEARCH))  # a document found by a search is read; the search is said too
    subtype.append({"system": EVENT_SYSTEM, "code": record.event})
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": record.disclosure_id,
        "type": dict(shape.type),
        "subtype": subtype,
        "action": shape.action,
        "recorded": record.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "outcome": outcome,
        "agent": _agents(record, shape, server),
        "source": {
            "observer": {"display": "ld-gateway"},
            "type": [_coding("http://terminology.hl7.org/CodeSystem/security-source-type", "4", "Application Server")],
        },
        "entity": _entities(record, shape),
    }
    if record.reason and outcome != "0":
        event["outcomeDesc"] = record.reason
    if record.purpose:
        event["purposeOfEvent"] = [{"coding": purpose_codings(record.purpose)}]
    if not event["entity"]:
        del event["entity"]
    profile = claimed_profile(event, shape, outcome)
    if profile:
        event["meta"] = {"profile": [profile]}
    return event
