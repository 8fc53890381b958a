"""A document built by a supplier's own FHIR stack is accepted (``POST /fhir/Bundle``).

The document here is built with the fhir.resources R4B models from docs/fhir-inbound.md alone: none of the
gateway's rendering code, none of its constants (the URIs are written out as a supplier would copy them).
What is stored must be exactly the canonical assessment the supplier meant.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.clinicalimpression import ClinicalImpression
from fhir.resources.R4B.composition import Composition, CompositionSection
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.resource import Resource
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest

from gateway.assessments import store
from gateway.assessments.validation import load_schema, validate_assessment
from gateway.fhir.inbound import InboundError, map_document
from tests.conftest import ROOT

FHIR_JSON = {"Content-Type": "application/fhir+json"}
BASE = "https://ld-gateway.example/fhir"
FINDING = f"{BASE}/CodeSystem/finding"
SCT = "http://snomed.info/sct"
SCHEMA = load_schema(ROOT / "schemas")

#: What the supplier means to publish: an adult assessed in police custody who consents to sharing with
#: one police force for charging.
INTENDED: dict[str, Any] = {
    "local_reference": "CMS-2026-0042",
    "subject": {
        "nhs_number": "9000000009",
        "pnc_id": "2022/0004242V",
        "names": [
            {"use": "official", "family": "Smith", "given": ["Jo"]},
            {"use": "alias", "family": "Smyth", "given": ["Joanne"]},
        ],
        "date_of_birth": "1990-04-01",
    },
    "case_links": [{"agency_code": "POL-NE", "case_reference": "01NE0099926"}],
    "context": {
        "assessed_at": "2026-11-20T10:15:00Z",
        "setting": "police-custody",
        "service_name": "North East L&D Service",
    },
    "consent": {
        "status": "given",
        "recorded_at": "2026-11-20T10:05:00Z",
        "limited_to_agencies": ["POL-NE"],
        "limited_to_purposes": ["charging"],
        "gillick_competent": None,
        "best_interests_decision": None,
    },
    "vulnerability_summary": "Low mood and heavy drinking; loses track of long questions.",
    "needs": {
        "appropriate_adult": {
            "required": True,
            "reasons": ["difficulty-understanding"],
            "explanation": "Explain each right in short steps.",
        },
        "communication": {"needs": ["Short questions", "Extra time"], "adjustments": "Check understanding."},
        "intermediary": {"recommended": False},
    },
    "fitness": {
        "interview": {"status": "fit-with-support", "reasons": ["needs-breaks"], "explanation": "Breaks hourly."},
        "plead": {"concerns": False},
    },
    "diversion": {"suitable": True, "options": ["outcome-22"], "notes": "First offence."},
    "treatment_requirements": {"atr": {"suitable": True, "consents": True}, "notes": "Alcohol service agrees."},
    "diagnoses": [
        {"code": "35489007", "system": SCT, "display": "Depressive disorder", "status": "confirmed"},
        {"code": "7200002", "system": SCT, "display": "Alcoholism", "status": "reported"},
    ],
    "clinical_detail": "PHQ-9 19; AUDIT 31.",
    "risk": {
        "assessment": {"to_self": "high", "to_others": "low", "summary": "Overdose in 2021."},
        "safeguarding": {"concerns": True, "summary": "Threatened for money."},
    },
    "referrals": [
        {
            "service": "Community Mental Health Team",
            "need": "mental-health",
            "status": "accepted",
            "date": "2026-11-20",
        },
        {"service": "Community Alcohol Service", "need": "alcohol", "status": "attended", "date": "2026-11-21"},
    ],
    "engagement": "Took part fully.",
    "third_party_information": "Her sister is worried about her drinking.",
}


def concept(system: str, code: str, text: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"coding": [{"system": system, "code": code}]}
    if text:
        out["text"] = text
    return out


def finding(code: str) -> dict[str, Any]:
    return concept(FINDING, code)


class Supplier:
    """A case system's document builder: fhir.resources models, references by urn:uuid or Type/id."""

    def __init__(self, *, relative: bool = False) -> None:
        self.relative = relative
        self.entries: list[tuple[str, Resource]] = []
        self.sections: dict[str, list[str]] = {}
        self.count = 0

    def add(self, resource: Resource, section: str | None = None) -> dict[str, str]:
        self.count += 1
        resource.id = f"r{self.count}"
        url = f"urn:uuid:00000000-0000-4000-8000-{self.count:012d}"
        self.entries.append((url, resource))
        reference = f"{resource.get_resource_type()}/{resource.id}" if self.relative else url
        if section:
            self.sections.setdefault(section, []).append(reference)
        return {"reference": reference}

    def bundle(self, composition: dict[str, Any]) -> dict[str, Any]:
        composition["section"] = [
            CompositionSection(
                title=code.title(),
                code=concept(f"{BASE}/CodeSystem/section", code),
                text={"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{code}</p></div>'},
                entry=[{"reference": ref} for ref in refs],
            )
            for code, refs in self.sections.items()
        ]
        entries = [
            BundleEntry(fullUrl="urn:uuid:00000000-0000-4000-8000-999999999999", resource=Composition(**composition)),
            *(BundleEntry(fullUrl=url, resource=resource) for url, resource in self.entries),
        ]
        bundle = Bundle(
            type="document",
            identifier={"system": "urn:ietf:rfc:3986", "value": "urn:uuid:5b3f1c5e-0c1b-4a7e-9a53-1f2d3e4c5b6a"},
            timestamp="2026-11-20T12:00:00Z",
            entry=entries,
        )
        return json.loads(bundle.model_dump_json(exclude_none=True))


def supplier_document(consent_idiom: str = "given", *, relative: bool = False) -> dict[str, Any]:
    """INTENDED as a supplier builds it; ``consent_idiom`` picks how the consent decision is written."""
    s = Supplier(relative=relative)
    patient = s.add(
        Patient(
            identifier=[
                {
                    "system": "https://fhir.nhs.uk/Id/nhs-number",
                    "value": "9000000009",
                    "extension": [
                        {
                            "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                            "valueCodeableConcept": concept(
                                "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", "01"
                            ),
                        }
                    ],
                },
                {"system": f"{BASE}/Id/pnc-id", "value": "2022/0004242V"},
                {
                    "system": f"{BASE}/Id/case-reference/POL-NE",
                    "value": "01NE0099926",
                    "assigner": {"identifier": {"system": f"{BASE}/Id/agency-code", "value": "POL-NE"}},
                },
            ],
            name=[
                {"use": "official", "family": "Smith", "given": ["Jo"], "text": "Jo Smith"},
                {"use": "nickname", "family": "Smyth", "given": ["Joanne"]},
            ],
            birthDate="1990-04-01",
        )
    )
    service = s.add(
        Organization(
            identifier=[{"system": f"{BASE}/Id/agency-code", "value": "LD-NE"}],
            name="North East L&D Service",
        )
    )
    police = s.add(
        Organization(identifier=[{"system": f"{BASE}/Id/agency-code", "value": "POL-NE"}], name="Northshire Police")
    )
    encounter = s.add(
        Encounter(
            status="finished",
            class_fhir={"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "FLD"},
            type=[concept(f"{BASE}/CodeSystem/assessment-setting", "police-custody", "Police custody")],
            subject=patient,
            period={"start": "2026-11-20T10:15:00Z"},
            serviceProvider=service,
        ),
        "assessment",
    )
    when = "2026-11-20T10:15:00Z"
    s.add(
        ClinicalImpression(
            status="completed",
            code=finding("vulnerability-assessment"),
            subject=patient,
            effectiveDateTime=when,
            summary=INTENDED["vulnerability_summary"],
        ),
        "vulnerability",
    )

    def observation(section: str, code: str, **elements: Any) -> None:
        s.add(
            Observation(status="final", code=finding(code), subject=patient, effectiveDateTime=when, **elements),
            section,
        )

    def reason(system: str, code: str) -> dict[str, Any]:
        return {"code": finding("reason"), "valueCodeableConcept": concept(f"{BASE}/CodeSystem/{system}", code)}

    observation(
        "needs",
        "appropriate-adult-required",
        valueBoolean=True,
        component=[reason("appropriate-adult-reason", "difficulty-understanding")],
        note=[{"text": "Explain each right in short steps."}],
    )
    s.add(
        Flag(status="active", code=finding("appropriate-adult-required"), subject=patient, period={"start": when}),
        "needs",
    )
    observation(
        "needs",
        "communication-needs",
        component=[
            {"code": finding("communication-need"), "valueString": "Short questions"},
            {"code": finding("communication-need"), "valueString": "Extra time"},
        ],
        note=[{"text": "Check understanding."}],
    )
    observation("needs", "intermediary-recommended", valueBoolean=False)
    observation(
        "fitness",
        "fitness-to-interview",
        valueCodeableConcept=concept(f"{BASE}/CodeSystem/interview-fitness", "fit-with-support"),
        component=[reason("interview-fitness-reason", "needs-breaks")],
        note=[{"text": "Breaks hourly."}],
    )
    observation("fitness", "fitness-to-plead-concerns", valueBoolean=False)
    observation(
        "diversion",
        "diversion-suitability",
        valueBoolean=True,
        component=[
            {
                "code": finding("diversion-option"),
                "valueCodeableConcept": concept(f"{BASE}/CodeSystem/diversion-option", "outcome-22"),
            }
        ],
        note=[{"text": "First offence."}],
    )
    observation(
        "treatment",
        "treatment-requirement-suitability",
        component=[
            {"code": finding("atr-suitable"), "valueBoolean": True},
            {"code": finding("atr-consents"), "valueBoolean": True},
        ],
        note=[{"text": "Alcohol service agrees."}],
    )
    for code, display, status in (("35489007", "Depressive disorder", "confirmed"), ("7200002", None, "unconfirmed")):
        s.add(
            Condition(
                clinicalStatus=concept("http://terminology.hl7.org/CodeSystem/condition-clinical", "active"),
                verificationStatus=concept("http://terminology.hl7.org/CodeSystem/condition-ver-status", status),
                category=[concept("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis")],
                # The second names the condition in the concept's text only, as many stacks do.
                code={"coding": [{"system": SCT, "code": code, "display": display}], "text": display or "Alcoholism"},
                subject=patient,
                recordedDate="2026-11-20",
            ),
            "clinical",
        )
    observation("clinical", "clinical-detail", valueString="PHQ-9 19; AUDIT 31.")
    s.add(
        RiskAssessment(
            status="final",
            subject=patient,
            occurrenceDateTime=when,
            prediction=[
                {
                    "outcome": finding("harm-to-self"),
                    "qualitativeRisk": concept("http://terminology.hl7.org/CodeSystem/risk-probability", "high"),
                },
                {
                    "outcome": finding("harm-to-others"),
                    "qualitativeRisk": concept("http://terminology.hl7.org/CodeSystem/risk-probability", "low"),
                },
            ],
            note=[{"text": "Overdose in 2021."}],
        ),
        "risk",
    )
    s.add(Flag(status="active", code=finding("risk-of-harm"), subject=patient), "risk")
    observation("risk", "safeguarding-concerns", valueBoolean=True, note=[{"text": "Threatened for money."}])
    s.add(
        ServiceRequest(
            extension=[
                {
                    "url": f"{BASE}/StructureDefinition/referral-status",
                    "valueCoding": {"system": f"{BASE}/CodeSystem/referral-status", "code": "accepted"},
                }
            ],
            status="active",
            intent="order",
            code={"text": "Community Mental Health Team"},
            reasonCode=[concept(f"{BASE}/CodeSystem/referral-need", "mental-health")],
            subject=patient,
            authoredOn="2026-11-20",
            requester=service,
        ),
        "referrals",
    )
    s.add(
        ServiceRequest(  # no referral-status extension: completed is attended
            status="completed",
            intent="order",
            code={"text": "Community Alcohol Service"},
            reasonCode=[concept(f"{BASE}/CodeSystem/referral-need", "alcohol")],
            subject=patient,
            authoredOn="2026-11-21T09:00:00Z",
        ),
        "referrals",
    )
    observation("referrals", "engagement-with-services", valueString="Took part fully.")
    observation("third-party", "third-party-information", valueString="Her sister is worried about her drinking.")
    consent: dict[str, Any] = {
        "status": "active",
        "scope": concept("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy"),
        "category": [concept("http://loinc.org", "59284-0")],
        "patient": patient,
        "dateTime": "2026-11-20T10:05:00Z",
        "performer": [patient],
        "organization": [service],
        "policyRule": {"text": "L&D information sharing"},
        "provision": {
            "type": "permit",
            "actor": [
                {
                    "role": concept("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP"),
                    "reference": police,
                }
            ],
            "purpose": [{"system": f"{BASE}/CodeSystem/purpose-of-use", "code": "charging"}],
        },
    }
    if consent_idiom == "active-deny":
        consent["provision"] = {"type": "deny"}
    elif consent_idiom == "rejected":
        consent["status"] = "rejected"
        del consent["provision"]
    s.add(Consent(**consent), "consent")
    return s.bundle(
        {
            "identifier": {"system": f"{BASE}/Id/local-reference", "value": "CMS-2026-0042"},
            "status": "final",
            "type": concept("http://loinc.org", "11488-4"),
            "subject": patient,
            "encounter": encounter,
            "date": "2026-11-20T12:00:00Z",
            "author": [service],
            "title": "L&D assessment",
        }
    )


def intended(consent_idiom: str = "given") -> dict[str, Any]:
    out = copy.deepcopy(INTENDED)
    if consent_idiom != "given":
        out["consent"].update(status="declined", limited_to_agencies=[], limited_to_purposes=[])
    return out


def canonical(document: dict[str, Any]) -> dict[str, Any]:
    normalised, problems = validate_assessment(document, SCHEMA)
    assert problems == [], problems
    return _compact(normalised)


def _compact(value: Any) -> Any:
    """Absent, null and empty mean the same in the canonical form."""
    if isinstance(value, dict):
        items = {k: _compact(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_compact(v) for v in value]
    return value


@pytest.mark.parametrize("idiom", ["given", "active-deny", "rejected"])
def test_a_supplier_document_is_stored_as_the_assessment_it_means(gateway, idiom):
    response = gateway.http.post(
        "/fhir/Bundle", json=supplier_document(idiom), auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR_JSON
    )
    assert response.status_code == 201, response.text
    with gateway.sessions() as session:
        stored = store.load_current(session, gateway.keyring, response.json()["id"])
    assert stored is not None
    assert _compact(stored.content) == canonical(intended(idiom))


def test_references_may_be_relative_type_and_id():
    assert _compact(map_document(supplier_document(relative=True)).assessment) == canonical(intended())


def test_a_child_consent_decided_by_a_parent_is_a_related_person():
    document = supplier_document()
    entries = document["entry"]
    patient_url = entries[1]["fullUrl"]
    consent = next(e["resource"] for e in entries if e["resource"]["resourceType"] == "Consent")
    entries.append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000901",
            "resource": {
                "resourceType": "RelatedPerson",
                "id": "mother",
                "patient": {"reference": patient_url},
                "name": [{"given": ["Pat"], "family": "Smith"}],
                "relationship": [
                    {
                        "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "MTH"}],
                        "text": "Mother (parental responsibility)",
                    }
                ],
            },
        }
    )
    consent["performer"] = [{"reference": "urn:uuid:00000000-0000-4000-8000-000000000901"}]
    entries.append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-000000000902",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": finding("capacity-to-consent"),
                "subject": {"reference": patient_url},
                "component": [
                    {"code": finding("gillick-competent"), "valueBoolean": False},
                    {"code": finding("best-interests-decision"), "valueString": "Too unwell to decide today."},
                ],
            },
        }
    )
    mapped = map_document(document).assessment["consent"]
    assert mapped["given_by"] == {"name": "Pat Smith", "relationship": "Mother (parental responsibility)"}
    assert (mapped["gillick_competent"], mapped["best_interests_decision"]) == (False, "Too unwell to decide today.")


def test_an_inactive_consent_needs_the_status_extension():
    document = supplier_document()
    index, consent = next(
        (i, e["resource"]) for i, e in enumerate(document["entry"]) if e["resource"]["resourceType"] == "Consent"
    )
    consent["status"] = "inactive"
    with pytest.raises(InboundError) as raised:
        map_document(document)
    assert [p.expression for p in raised.value.problems] == [f"Bundle.entry[{index}].resource.extension"]
    consent["extension"] = [
        {
            "url": f"{BASE}/StructureDefinition/consent-status",
            "valueCoding": {"system": f"{BASE}/CodeSystem/consent-status", "code": "withdrawn"},
        }
    ]
    assert map_document(document).assessment["consent"]["status"] == "withdrawn"


def test_every_problem_is_listed_with_its_place_and_nothing_is_stored(gateway):
    document = supplier_document()
    entries = document["entry"]
    first = {e["resource"]["resourceType"]: i for i, e in reversed(list(enumerate(entries)))}
    intermediary = next(i for i, e in enumerate(entries) if _code(e["resource"]) == "intermediary-recommended")
    entries[first["Patient"]]["resource"]["gender"] = "female"
    entries[first["Encounter"]]["resource"]["type"][0]["coding"][0]["code"] = "pub"
    entries[first["Condition"]]["resource"]["verificationStatus"]["coding"][0]["code"] = "refuted"
    entries[first["Consent"]]["resource"]["provision"]["actor"][0]["reference"] = {"reference": "urn:uuid:nowhere"}
    entries[intermediary]["resource"]["code"]["coding"][0]["code"] = "intermediary-recomended"
    response = gateway.http.post(
        "/fhir/Bundle", json=document, auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR_JSON
    )
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = {e for issue in outcome["issue"] for e in issue["expression"]}
    assert expressions == {
        f"Bundle.entry[{first['Patient']}].resource.gender",
        f"Bundle.entry[{first['Encounter']}].resource.type[0]",
        f"Bundle.entry[{first['Condition']}].resource.verificationStatus",
        f"Bundle.entry[{first['Consent']}].resource.provision.actor[0].reference.reference",
        f"Bundle.entry[{intermediary}].resource.code",
    }, outcome
    assert "female" not in response.text and "Smith" not in response.text
    with gateway.sessions() as session:
        assert (
            store.find_subject_id(session, gateway.keyring, "https://fhir.nhs.uk/Id/nhs-number", "9000000009") is None
        )


def _code(resource: dict[str, Any]) -> str | None:
    codings = (resource.get("code") or {}).get("coding") or [{}]
    return codings[0].get("code")


def test_republishing_is_idempotent_and_a_changed_entry_is_a_new_version(gateway):
    auth = gateway.auth("LD-NE", "ld-service")
    document = supplier_document()
    first = gateway.http.post("/fhir/Bundle", json=document, auth=auth, headers=FHIR_JSON)
    again = gateway.http.post("/fhir/Bundle", json=document, auth=auth, headers=FHIR_JSON)
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == {**first.json(), "created": False, "changed": False}
    # Narrative is not content: the same entries with other section text are the same assessment.
    rebuilt = copy.deepcopy(document)
    for section in rebuilt["entry"][0]["resource"]["section"]:
        section["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Rewritten.</p></div>'
    assert gateway.http.post("/fhir/Bundle", json=rebuilt, auth=auth, headers=FHIR_JSON).status_code == 200
    risk = next(e["resource"] for e in rebuilt["entry"] if e["resource"]["resourceType"] == "RiskAssessment")
    risk["prediction"][1]["qualitativeRisk"]["coding"][0]["code"] = "moderate"
    changed = gateway.http.post("/fhir/Bundle", json=rebuilt, auth=auth, headers=FHIR_JSON)
    assert changed.status_code == 201 and changed.json()["version"] == 2, changed.text
    with gateway.sessions() as session:
        stored = store.load_current(session, gateway.keyring, first.json()["id"])
    assert stored is not None and stored.content["risk"]["assessment"]["to_others"] == "medium"


def test_a_warning_names_the_note_that_holds_the_text(gateway):
    """Text for police that names a diagnosis is accepted with a warning at the element the supplier wrote."""
    document = supplier_document()
    index, observation = next(
        (i, e["resource"])
        for i, e in enumerate(document["entry"])
        if _code(e["resource"]) == "appropriate-adult-required"
    )
    observation["note"][0]["text"] = "He has autism; explain each right in short steps."
    response = gateway.http.post(
        "/fhir/Bundle", json=document, auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR_JSON
    )
    assert response.status_code == 201, response.text
    [issue] = response.json()["outcome"]["issue"]
    assert (issue["severity"], issue["expression"]) == ("warning", [f"Bundle.entry[{index}].resource.note[0].text"])
    assert issue["diagnostics"].startswith("needs.appropriate_adult.explanation")
    assert "autism" not in response.text
