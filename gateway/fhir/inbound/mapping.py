"""Map a FHIR R4 document Bundle (parsed JSON) to a canonical assessment: the orchestration.

1. The R4B models (fhir.resources) check types, cardinality and unknown elements.
2. Each resource is read by its type's reader; values come from structured elements only.
3. Whatever no reader read is named and refused; Flags are checked against the values they alert to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from gateway.fhir.inbound import clinical, consent, findings, identity, referrals
from gateway.fhir.inbound.composition import composition
from gateway.fhir.inbound.errors import InboundError
from gateway.fhir.inbound.locate import locate
from gateway.fhir.inbound.reader import Node, Reading, unread
from gateway.issue import Issue

_READERS: dict[str, Callable[[Reading, Node], None]] = {
    "Patient": identity.patient,
    "Organization": identity.organization,
    "Encounter": identity.encounter,
    "ClinicalImpression": clinical.clinical_impression,
    "Condition": clinical.condition,
    "RiskAssessment": clinical.risk_assessment,
    "Observation": findings.observation,
    "Flag": findings.flag,
    "ServiceRequest": referrals.service_request,
    "Consent": consent.consent,
    "RelatedPerson": consent.related_person,
}

#: Elements of every resource the gateway reads and does not use: ids, metadata (it labels from its own
#: field catalogue), and narrative, which is for people.
_RESOURCE_IGNORED = ("resourceType", "id", "meta", "text", "language", "implicitRules")


@dataclass(frozen=True)
class Inbound:
    """A mapped document: the canonical assessment, the agency code of its author Organization (and where
    it is), and where each canonical value came from (canonical path -> FHIRPath), to locate later problems."""

    assessment: dict[str, Any]
    author_code: str | None
    origins: dict[str, str] = field(default_factory=dict)
    author_at: str = "Bundle.entry.resource.ofType(Organization).identifier"

    def locate(self, issue: Issue) -> Issue:
        """A problem of the canonical validation, moved onto the document element it is about."""
        return locate(issue, self.origins)


def map_document(data: Any) -> Inbound:
    """Map a FHIR document Bundle to a canonical assessment, or raise :class:`InboundError` naming
    every problem. The result still has to pass ``validate_assessment``: this maps, it does not judge."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise InboundError([Issue("structure", "the body must be a FHIR Bundle", "Bundle")])
    problems = _schema_problems(data)
    if problems:
        raise InboundError(problems)
    r = Reading(data)
    _read(r)
    left: list[str] = []
    if unread(data, "Bundle", r.used, left):
        left.append("Bundle")
    problems = r.problems + [
        Issue("not-supported", "the document profile has no place for this element; it was not accepted", expr)
        for expr in left
    ]
    if problems:
        raise InboundError(problems, (r.doc, r.origins))
    return Inbound(r.doc, r.author_code, r.origins, r.author_at)


def _read(r: Reading) -> None:
    root = r.root
    root.ignore("resourceType", "id", "meta", "identifier", "timestamp", "language", "implicitRules")
    if root.raw("type") != "document":
        r.problem("value", "Bundle.type must be document", "Bundle.type")
    entries = root.items("entry")
    resources: list[Node] = []
    for entry in entries:
        resource = entry.child("resource")
        if resource is None:
            r.problem("required", "every entry needs a resource", entry.expr)
            continue
        resource.ignore(*_RESOURCE_IGNORED)
        url = entry.raw("fullUrl")
        if isinstance(url, str):
            r.resources[url] = resource
        if isinstance(resource.get("id"), str):
            r.resources.setdefault(f"{resource.get('resourceType')}/{resource.get('id')}", resource)
        resources.append(resource)
    if not resources or entries[0].child("resource") is None or resources[0].get("resourceType") != "Composition":
        r.problem("structure", "a document Bundle starts with its Composition", "Bundle.entry[0]")
        return
    if sum(1 for res in resources if res.get("resourceType") == "Patient") != 1:
        r.problem("structure", "a document is about one person: exactly one Patient", "Bundle.entry")
        return
    for resource in resources[1:]:
        reader = _READERS.get(resource.get("resourceType"))
        if reader is None:
            r.problem("not-supported", "this resource type is not part of the L&D document profile", resource.expr)
            resource.mark()
            continue
        reader(r, resource)
    composition(r, resources[0])
    for key, what in (("context", "an Encounter (the assessment)"), ("consent", "a Consent")):
        if key not in r.doc:
            r.problem("required", f"the document needs {what}", "Bundle.entry")
    if isinstance(r.doc.get("consent"), dict):
        r.doc["consent"].update(r.capacity)
    findings.check_flags(r)


def _schema_problems(data: dict[str, Any]) -> list[Issue]:
    """fhir.resources (R4B models) validation: element types, cardinality, unknown elements."""
    # Imported here, not at the top: the FHIR models are megabytes of every serving process, and only
    # a publish in FHIR (POST /fhir/Bundle) uses them.
    from fhir.resources.R4B.bundle import Bundle

    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            expr = "Bundle"
            for part in error["loc"]:
                expr += f"[{part}]" if isinstance(part, int) else f".{part}"
            problems.append(Issue("structure", str(error["msg"]), expr))
        return problems or [Issue("structure", "not a valid FHIR R4 Bundle", "Bundle")]
    return []
