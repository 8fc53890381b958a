"""The inbound mapping (gateway.fhir.inbound): FHIR document -> canonical assessment, the inverse of the renderer."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from gateway.assessments.catalogue import CatalogueField, field_value
from gateway.assessments.validation import load_schema, validate_assessment
from gateway.fhir.examples import publishable_document
from gateway.fhir.inbound import InboundError, map_document
from gateway.fhir.inbound.findings import OBSERVATION_CODES
from gateway.fhir.inbound.profile import FLAG_FINDINGS
from gateway.fhir.terminology import ASSESSMENT_ID_SYSTEM, FINDING_SYSTEM
from gateway.issue import Issue
from tests.fhir.fixtures import AUDIENCE, CATALOGUE, EXAMPLES_DIR, FULL_ASSESSMENT, ROOT, check_document

SCHEMA = load_schema(ROOT / "schemas")


def compact(value: Any) -> Any:
    """Absent, null and empty mean the same in the canonical form (as the projection treats them)."""
    if isinstance(value, dict):
        items = {k: compact(v) for k, v in value.items()}
        return {k: v for k, v in items.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value


def disclosed(document: dict[str, Any], field: CatalogueField) -> Any:
    """The field as the renderer receives it with every field released (members only; links by audience)."""
    value = compact(field_value(document, field, AUDIENCE))
    return None if value in ([], {}) else value


def as_document(assessment: dict[str, Any]) -> dict[str, Any]:
    """The assessment as the gateway's own publishable document (the outbound rendering with every field
    released, plus the inbound profile's entries for what that rendering only narrates)."""
    return publishable_document(assessment, CATALOGUE, "LD-NE")


# FULL_ASSESSMENT fills every field, which no one person's assessment can: an adult has treatment
# requirements and consents for themselves, a child has youth requirements and may have consent decided
# by a person with parental responsibility. The adult cases start from this publishable adult.
ADULT = {k: v for k, v in FULL_ASSESSMENT.items() if k != "youth_requirements"}
ADULT["consent"] = {k: v for k, v in FULL_ASSESSMENT["consent"].items() if k != "given_by"}


def _variant(*, child: bool = False, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(FULL_ASSESSMENT if child else ADULT)
    for pointer, value in changes.items():
        *path, last = pointer.split("__")
        node = doc
        for key in path:
            node = node[key]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return doc


_DELETE = object()

CASES: dict[str, dict[str, Any]] = {
    "full": ADULT,
    "child-full": _variant(
        child=True, subject__date_of_birth="2010-06-01", treatment_requirements=_DELETE, subject__crn=_DELETE
    ),
    "adult-example": json.loads((EXAMPLES_DIR / "adult.json").read_text()),
    "child-example": json.loads((EXAMPLES_DIR / "child.json").read_text()),
    "consent-not-possible-with-limits": _variant(
        consent={
            "status": "not-possible",
            "recorded_at": "2026-11-20T10:05:00+01:00",
            "limited_to_agencies": ["MC-NE"],
            "limited_to_purposes": ["sentencing", "case-management"],
            "gillick_competent": False,
            "best_interests_decision": "Shared in her best interests by the L&D clinician.",
        }
    ),
    # A refusal (and a withdrawal) is recorded as a whole: no limits to carry.
    **{
        f"consent-{status}": _variant(
            consent={"status": status, "recorded_at": "2026-11-20T10:05:00Z", "gillick_competent": None}
        )
        for status in ("declined", "withdrawn")
    },
    "negatives-and-minimal": _variant(
        needs={
            "appropriate_adult": {"required": False, "reason": None},
            "communication": {"needs": [], "adjustments": "Speak slowly."},
            "intermediary": {"recommended": False},
        },
        fitness={"interview": {"status": "unfit"}, "plead": {"concerns": False}},
        diversion={"suitable": False},
        treatment_requirements={"drr": {"suitable": False, "consents": None}},
        risk={"assessment": {"to_self": "low", "to_others": "medium"}, "safeguarding": {"concerns": False}},
        diagnoses=[],
        referrals=[],
    ),
    "identity-only": {k: ADULT[k] for k in ("local_reference", "subject", "case_links", "context", "consent")},
    "pnc-only-subject": _variant(subject__nhs_number=_DELETE, subject__cro_number=_DELETE),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_is_identity_on_every_catalogue_field(name: str) -> None:
    original = CASES[name]
    mapped = map_document(as_document(original))
    assert mapped.author_code == "LD-NE"
    for field in CATALOGUE:
        assert disclosed(mapped.assessment, field) == disclosed(original, field), field.id
    assert mapped.assessment["local_reference"] == original["local_reference"]
    # And it is a publishable canonical assessment, equal to what the API stores for the original.
    normalised, problems = validate_assessment(mapped.assessment, SCHEMA)
    assert problems == []
    assert compact(normalised) == compact(validate_assessment(original, SCHEMA)[0])


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_publishable_document_is_a_valid_fhir_document(name: str) -> None:
    check_document(as_document(CASES[name]))


def test_consent_keys_are_the_canonical_ones() -> None:
    mapped = map_document(as_document(CASES["adult-example"]))
    assert set(mapped.assessment["consent"]) == set(CASES["adult-example"]["consent"])


# -- rejections name each bad element -----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _entry(bundle: dict[str, Any], resource_type: str, nth: int = 0) -> tuple[int, dict[str, Any]]:
    hits = [(i, e["resource"]) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == resource_type]
    return hits[nth]


def _section(bundle: dict[str, Any], code: str) -> tuple[int, dict[str, Any]]:
    sections = bundle["entry"][0]["resource"]["section"]
    return next((i, s) for i, s in enumerate(sections) if s["code"]["coding"][0]["code"] == code)


def _gender(b: dict[str, Any]) -> str:
    i, patient = _entry(b, "Patient")
    patient["gender"] = "female"
    return f"Bundle.entry[{i}].resource.gender"


def _unknown_identifier(b: dict[str, Any]) -> str:
    i, patient = _entry(b, "Patient")
    patient["identifier"].append({"system": "https://example.org/custody-number", "value": "NE-000123"})
    return f"Bundle.entry[{i}].resource.identifier[{len(patient['identifier']) - 1}]"


def _composition_extension(b: dict[str, Any]) -> str:
    b["entry"][0]["resource"]["extension"].append({"url": "https://example.org/ext", "valueString": "x"})
    return "Bundle.entry[0].resource.extension[2]"


def _second_coding(b: dict[str, Any]) -> str:
    i, flag = _entry(b, "Flag")
    flag["code"]["coding"].append({"system": "http://snomed.info/sct", "code": "225746001"})
    return f"Bundle.entry[{i}].resource.code.coding[1]"


def _care_plan(b: dict[str, Any]) -> str:
    patient_url = b["entry"][1]["fullUrl"]
    b["entry"].append(
        {
            "fullUrl": "urn:uuid:6f1c1b52-8b0e-4a53-9d33-5a1b4a2f0c11",
            "resource": {
                "resourceType": "CarePlan",
                "status": "active",
                "intent": "plan",
                "subject": {"reference": patient_url},
            },
        }
    )
    return f"Bundle.entry[{len(b['entry']) - 1}].resource"


def _unknown_finding(b: dict[str, Any]) -> str:
    i, obs = _entry(b, "Observation")
    obs["code"]["coding"][0]["code"] = "gait-speed"
    return f"Bundle.entry[{i}].resource.code"


def _flag_contradicts(b: dict[str, Any]) -> str:
    _, risk = _entry(b, "RiskAssessment")
    for prediction in risk["prediction"]:
        prediction["qualitativeRisk"]["coding"][0]["code"] = "low"
    flags = [(j, e["resource"]) for j, e in enumerate(b["entry"]) if e["resource"]["resourceType"] == "Flag"]
    j = next(j for j, f in flags if f["code"]["coding"][0]["code"] == "risk-of-harm")
    return f"Bundle.entry[{j}].resource"


def _gateway_assessment_id(b: dict[str, Any]) -> str:
    b["entry"][0]["resource"]["identifier"] = {"system": ASSESSMENT_ID_SYSTEM, "value": "abc"}
    return "Bundle.entry[0].resource.identifier"


def _bad_birth_date(b: dict[str, Any]) -> str:
    i, patient = _entry(b, "Patient")
    patient["birthDate"] = "1990-13-01"
    return f"Bundle.entry[{i}].resource.birthDate"


def _not_a_document(b: dict[str, Any]) -> str:
    b["type"] = "collection"
    return "Bundle.type"


def _referral_status_mismatch(b: dict[str, Any]) -> str:
    i, request = _entry(b, "ServiceRequest")
    request["status"] = "completed"
    return f"Bundle.entry[{i}].resource.status"


def _dangling_reference(b: dict[str, Any]) -> str:
    i, condition = _entry(b, "Condition")
    condition["subject"]["reference"] = "urn:uuid:00000000-0000-0000-0000-000000000000"
    return f"Bundle.entry[{i}].resource.subject.reference"


def _unknown_consent_status(b: dict[str, Any]) -> str:
    i, consent = _entry(b, "Consent")
    consent["extension"][0]["valueCoding"]["code"] = "maybe"
    return f"Bundle.entry[{i}].resource.extension[0]"


MUTATIONS: dict[str, Callable[[dict[str, Any]], str]] = {
    f.__name__.lstrip("_"): f
    for f in (
        _gender,
        _unknown_identifier,
        _composition_extension,
        _second_coding,
        _care_plan,
        _unknown_finding,
        _flag_contradicts,
        _gateway_assessment_id,
        _bad_birth_date,
        _not_a_document,
        _referral_status_mismatch,
        _dangling_reference,
        _unknown_consent_status,
    )
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_each_bad_element_is_named(name: str) -> None:
    bundle = as_document(FULL_ASSESSMENT)
    expected = MUTATIONS[name](bundle)
    with pytest.raises(InboundError) as raised:
        map_document(bundle)
    expressions = [p.expression for p in raised.value.problems]
    assert expected in expressions, raised.value.problems


def test_every_problem_is_listed_at_once() -> None:
    bundle = as_document(FULL_ASSESSMENT)
    expected = {f(bundle) for f in (_gender, _unknown_identifier, _composition_extension, _second_coding)}
    with pytest.raises(InboundError) as raised:
        map_document(bundle)
    assert expected <= {p.expression for p in raised.value.problems}


def test_problems_never_repeat_submitted_values() -> None:
    bundle = as_document(FULL_ASSESSMENT)
    _gender(bundle)
    _, patient = _entry(bundle, "Patient")
    patient["birthDate"] = "Smith-1990"
    with pytest.raises(InboundError) as raised:
        map_document(bundle)
    assert "Smith" not in repr(raised.value.problems)


def test_narrative_is_display_only() -> None:
    """Section narrative is for people: rewriting it (even to say the opposite) changes nothing stored."""
    original = as_document(FULL_ASSESSMENT)
    edited = copy.deepcopy(original)
    for section in edited["entry"][0]["resource"]["section"]:
        if "text" in section:
            section["text"]["div"] = '<div xmlns="http://www.w3.org/1999/xhtml"><p>Risk to self: Low</p></div>'
    del next(s for s in edited["entry"][0]["resource"]["section"] if "text" in s)["text"]
    assert map_document(edited).assessment == map_document(original).assessment


@pytest.mark.parametrize("body", [[], "Bundle", {"resourceType": "Patient"}, {}])
def test_not_a_bundle(body: Any) -> None:
    with pytest.raises(InboundError) as raised:
        map_document(body)
    assert raised.value.problems[0].expression == "Bundle"


def test_the_profile_page_names_every_code_the_mapping_reads() -> None:
    page = (ROOT / "docs" / "fhir-inbound.md").read_text(encoding="utf-8")
    assert {code for code in OBSERVATION_CODES | FLAG_FINDINGS if f"`{code}`" not in page} == set()


def test_canonical_problems_are_located_in_the_document() -> None:
    mapped = map_document(as_document(ADULT))
    patient = "Bundle.entry[1].resource"
    for path, where in (
        ("subject.nhs_number", f"{patient}.identifier[0].value"),
        ("subject.date_of_birth", f"{patient}.birthDate"),
        ("case_links[0].agency_code", mapped.origins["case_links[0]"]),
        ("context.assessed_at", mapped.origins["context.assessed_at"]),
        ("needs.intermediary.reason", mapped.origins["needs.intermediary"] + ".note[0].text"),
        ("needs.intermediary.recommended", mapped.origins["needs.intermediary"] + ".valueBoolean"),
        ("needs.communication.needs[1]", mapped.origins["needs.communication"] + ".component[1].valueString"),
        ("no_such_field", "Bundle"),
    ):
        located = mapped.locate(Issue("value", "is wrong", path))
        assert (located.expression, located.diagnostics) == (where, f"{path}: is wrong"), path
    assert mapped.origins["case_links[0]"].startswith(f"{patient}.identifier[")


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    out = []
    for key, value in children:
        out.append((*path, key))
        out.extend(_paths(value, (*path, key)))
    return out


def test_any_element_removed_is_mapped_or_refused_never_a_crash() -> None:
    """Each element of a full document removed in turn: the mapping answers (a result or an InboundError
    naming problems), whatever the removal broke."""
    document = as_document(FULL_ASSESSMENT)
    refused = 0
    # One removal per kind of element (resource type and element path, indices aside), down to each
    # resource's elements and theirs, keeps it quick.
    kinds: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for path in (p for p in _paths(document) if len(p) <= 5):
        under = path[0] == "entry" and len(path) > 3
        rtype = document["entry"][path[1]]["resource"]["resourceType"] if under else None
        kinds.setdefault((rtype, *(k for k in path if isinstance(k, str))), path)
    for path in kinds.values():
        mutated = copy.deepcopy(document)
        parent = mutated
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        try:
            map_document(mutated)
        except InboundError as exc:
            assert exc.problems and all(p.expression for p in exc.problems), path
            refused += 1
    assert refused > 0


@pytest.mark.parametrize(
    "extra",
    [
        {},
        # As the renderer writes it (gateway.fhir._needs.not_applicable): the note saying why. Read back as
        # data, it became a requirement note released to court and probation from the 18th birthday.
        {"note": [{"text": "they apply to adults only; the person is under 18"}]},
    ],
    ids=["bare", "with-the-renderers-note"],
)
def test_requirements_said_not_applicable_are_not_recorded(extra: dict[str, Any]) -> None:
    document = as_document(CASES["child-example"])
    document["entry"].append(
        {
            "fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000a001",
            "resource": {
                "resourceType": "Observation",
                "status": "final",
                "code": {"coding": [{"system": FINDING_SYSTEM, "code": "treatment-requirement-suitability"}]},
                "subject": {"reference": document["entry"][1]["fullUrl"]},
                "dataAbsentReason": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/data-absent-reason", "code": "not-applicable"}
                    ]
                },
                **extra,
            },
        }
    )
    assert "treatment_requirements" not in map_document(document).assessment


@pytest.mark.parametrize("resource_type", ["Observation", "Flag", "RiskAssessment", "Consent"])
def test_a_resource_given_twice_is_one_problem(resource_type: str) -> None:
    bundle = as_document(FULL_ASSESSMENT)
    _, resource = _entry(bundle, resource_type)
    bundle["entry"].append(
        {"fullUrl": "urn:uuid:00000000-0000-4000-8000-00000000b001", "resource": copy.deepcopy(resource)}
    )
    with pytest.raises(InboundError) as raised:
        map_document(bundle)
    assert [(p.code, p.expression) for p in raised.value.problems] == [
        ("duplicate", f"Bundle.entry[{len(bundle['entry']) - 1}].resource")
    ]
