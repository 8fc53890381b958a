"""A document an L&D service could publish (``POST /fhir/Bundle``), rendered from a canonical example:
the body example of the API description, and so always one the gateway accepts.

It is the disclosure rendering (``document.py``) with every field released, plus the structured entries
of the inbound profile (``docs/fhir-inbound.md``) for the values that rendering only says in narrative:
the inbound mapping reads entries, never narrative.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.assessments.catalogue import Catalogue, resolve_pointer
from gateway.fhir import terminology as t
from gateway.fhir.document import DocumentMeta, Projection, render_document
from gateway.fhir.inbound import profile as p

EXAMPLE_ID = "00000000-0000-4000-8000-000000000000"
_NAMESPACE = uuid.UUID(EXAMPLE_ID)


def publishable_document(assessment: Mapping[str, Any], catalogue: Catalogue, publisher_code: str) -> dict[str, Any]:
    """Every field of ``assessment`` as a document authored by ``publisher_code``, naming the service's
    own record reference (``local_reference``) as a publisher's document does."""
    projection = Projection(
        {f.id: v for f in catalogue if (v := resolve_pointer(assessment, f.pointer)) is not None},
        released=catalogue.ids,
    )
    meta = DocumentMeta(
        bundle_id=EXAMPLE_ID,
        disclosure_id=EXAMPLE_ID,
        assessment_id=EXAMPLE_ID,
        assessment_version=1,
        timestamp=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        publisher_name="Northshire Liaison and Diversion Service",
        publisher_code=publisher_code,
        recipient_agency_code=publisher_code,
        recipient_agency_type="ld-service",
        purpose="ld-service",
        obligations=(),
        withheld_count=0,
        withheld=(),
    )
    bundle = render_document(projection, meta, {f.id: f.labels for f in catalogue})
    bundle["entry"][0]["resource"]["identifier"] = {
        "system": p.LOCAL_REFERENCE_SYSTEM,
        "value": str(assessment.get("local_reference", "example")),
    }
    _Carriers(bundle).add(assessment)
    return bundle


class _Carriers:
    """Adds the inbound profile's entries for values the disclosure rendering only narrates."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.composition = bundle["entry"][0]["resource"]
        self.patient = next(e["fullUrl"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")

    def add(self, a: Mapping[str, Any]) -> None:
        if isinstance(context := a.get("context"), Mapping):
            self._encounter(context)
        needs: Mapping[str, Any] = a["needs"] if isinstance(a.get("needs"), Mapping) else {}
        if isinstance(aa := needs.get("appropriate_adult"), Mapping):
            components = [_reason(t.APPROPRIATE_ADULT_REASON_SYSTEM, c) for c in aa.get("reasons") or ()]
            self._observation(
                "needs",
                "appropriate-adult-required",
                valueBoolean=aa.get("required"),
                component=components,
                note=aa.get("explanation"),
            )
        if isinstance(comm := needs.get("communication"), Mapping):
            components = [{"code": _finding("communication-need"), "valueString": n} for n in comm.get("needs") or ()]
            self._observation("needs", "communication-needs", component=components, note=comm.get("adjustments"))
        if isinstance(inter := needs.get("intermediary"), Mapping):
            self._observation(
                "needs", "intermediary-recommended", valueBoolean=inter.get("recommended"), note=inter.get("reason")
            )
        risk: Mapping[str, Any] = a["risk"] if isinstance(a.get("risk"), Mapping) else {}
        if isinstance(sg := risk.get("safeguarding"), Mapping):
            self._observation("risk", "safeguarding-concerns", valueBoolean=sg.get("concerns"), note=sg.get("summary"))
        for code, key in p.TEXT_OBSERVATIONS.items():
            section = {"clinical_detail": "clinical", "engagement": "referrals"}.get(key, "third-party")
            if a.get(key):
                self._observation(section, code, valueString=a[key])
        if isinstance(consent := a.get("consent"), Mapping):
            self._consent(consent)

    def _add(self, section: str, key: str, resource: dict[str, Any]) -> str:
        rid = str(uuid.uuid5(_NAMESPACE, key))
        url = f"urn:uuid:{rid}"
        self.bundle["entry"].append(
            {"fullUrl": url, "resource": {"resourceType": resource.pop("resourceType"), "id": rid, **_prune(resource)}}
        )
        if section:
            sections = self.composition.setdefault("section", [])
            found = next((s for s in sections if s["code"]["coding"][0]["code"] == section), None)
            if found is None:
                found = {"title": section, "code": {"coding": [{"system": t.SECTION_SYSTEM, "code": section}]}}
                sections.append(found)
            found.setdefault("entry", []).append({"reference": url})
        return url

    def _encounter(self, context: Mapping[str, Any]) -> None:
        provider = self._add(
            "",
            "Organization/assessing-service",
            {
                "resourceType": "Organization",
                "name": context.get("service_name"),
            },
        )
        setting = context.get("setting")
        url = self._add(
            "assessment",
            "Encounter",
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "FLD",
                    "display": "field",
                },
                "type": [t.local_concept(p.SETTING_SYSTEM, setting, t.SETTING_LABEL)] if setting else None,
                "subject": {"reference": self.patient},
                "period": {"start": context["assessed_at"]} if context.get("assessed_at") else None,
                "serviceProvider": {"reference": provider},
            },
        )
        self.composition["encounter"] = {"reference": url}

    def _observation(self, section: str, code: str, *, note: Any = None, component: Any = None, **value: Any) -> None:
        self._add(
            section,
            f"Observation/{code}",
            {
                "resourceType": "Observation",
                "status": "final",
                "code": _finding(code),
                "subject": {"reference": self.patient},
                "component": component or None,
                "note": [{"text": note}] if note else None,
                **{k: v for k, v in value.items() if v is not None},
            },
        )

    def _consent(self, consent: Mapping[str, Any]) -> None:
        resource = next(e["resource"] for e in self.bundle["entry"] if e["resource"]["resourceType"] == "Consent")
        components = []
        if consent.get("gillick_competent") is not None:
            components.append({"code": _finding("gillick-competent"), "valueBoolean": consent["gillick_competent"]})
        if consent.get("best_interests_decision"):
            components.append(
                {"code": _finding("best-interests-decision"), "valueString": consent["best_interests_decision"]}
            )
        if components:
            self._observation("clinical", "capacity-to-consent", component=components)
        agencies, purposes = consent.get("limited_to_agencies") or [], consent.get("limited_to_purposes") or []
        if "provision" not in resource and resource.get("status") == "inactive" and (agencies or purposes):
            # What a consent now withdrawn, or a best-interests decision, covered: its permit provision.
            resource["provision"] = _prune(
                {
                    "type": "permit",
                    "actor": [
                        {
                            "role": {"coding": [{"system": t.PARTICIPATION_TYPE_SYSTEM, "code": "IRCP"}]},
                            "reference": {"identifier": {"system": t.AGENCY_CODE_SYSTEM, "value": code}},
                        }
                        for code in agencies
                    ]
                    or None,
                    "purpose": [{"system": t.PURPOSE_OF_USE_SYSTEM, "code": code} for code in purposes] or None,
                }
            )
        given_by = consent.get("given_by")
        if isinstance(given_by, Mapping) and "performer" not in resource:
            person = self._add(
                "consent",
                "RelatedPerson/given-by",
                {
                    "resourceType": "RelatedPerson",
                    "patient": {"reference": self.patient},
                    "name": [{"text": given_by.get("name")}],
                    "relationship": [{"text": given_by.get("relationship")}],
                },
            )
            resource["performer"] = [{"reference": person}]


def _finding(code: str) -> dict[str, Any]:
    display = p.OBSERVATION_DISPLAY.get(code) or t.FINDING_DISPLAY[code]
    return {"coding": [{"system": t.FINDING_SYSTEM, "code": code, "display": display}], "text": display}


def _reason(system: str, code: str) -> dict[str, Any]:
    return {"code": t.finding("reason"), "valueCodeableConcept": {"coding": [{"system": system, "code": code}]}}


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not None}
