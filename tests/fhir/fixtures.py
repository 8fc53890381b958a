"""Shared test data for the FHIR renderer: a canonical assessment with every field filled in, the
catalogue, projection, canary planting and a strict document check that goes beyond what
fhir.resources enforces (it accepts unknown codes, empty arrays and any XHTML)."""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from gateway.assessments.catalogue import Audience, Catalogue, field_value, load_catalogue
from gateway.fhir import DocumentMeta, Projection

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE: Catalogue = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
LABELS: dict[str, tuple[str, ...]] = {f.id: f.labels for f in CATALOGUE}
EXAMPLES_DIR = ROOT / "schemas" / "examples"

#: Every leaf filled (no nulls, no empty lists), so every field has text a canary can ride on.
FULL_ASSESSMENT: dict[str, Any] = {
    "local_reference": "LD-TEST-2026-000001",
    "subject": {
        "nhs_number": "9000000009",
        "pnc_id": "2020/0000009N",
        "cro_number": "123456/08T",
        "crn": "X123456",
        "names": [
            {"use": "official", "family": "Smith", "given": ["Jo", "Ann"]},
            {"use": "alias", "family": "Smyth", "given": ["Joanne"]},
        ],
        "date_of_birth": "1990-04-01",
    },
    "case_links": [
        {"agency_code": "POL-NE", "case_reference": "01NE0012326"},
        {"agency_code": "PROB-NE", "case_reference": "X123456"},
        {"agency_code": "MHT-NE", "case_reference": "MHT-778812"},
    ],
    "context": {
        "assessed_at": "2026-11-20T10:15:00Z",
        "setting": "police-custody",
        "service_name": "North East L&D Service",
    },
    "consent": {
        "status": "given",
        "recorded_at": "2026-11-20T10:05:00Z",
        "limited_to_agencies": ["POL-NE", "CPS-NE"],
        "limited_to_purposes": ["charging"],
        "gillick_competent": True,
        "best_interests_decision": "Not needed: has capacity <checked> & agrees.",
        "given_by": {"name": "Pat Smith", "relationship": "Mother (parental responsibility)"},
    },
    "vulnerability_summary": 'Jo has depression & drinks heavily; she "loses track" of long questions <b>.',
    "needs": {
        "appropriate_adult": {
            "required": True,
            "reasons": ["difficulty-understanding", "suggestible-or-compliant"],
            "explanation": "Needs each right explained in short steps.",
        },
        "communication": {"needs": ["Short questions", "Extra time"], "adjustments": "Check understanding."},
        "intermediary": {"recommended": True, "reason": "Suggestible under pressure."},
    },
    "fitness": {
        "interview": {
            "status": "fit-with-support",
            "reasons": ["needs-breaks", "needs-healthcare-review"],
            "explanation": "Ask the custody nurse to review before interview.",
        },
        "plead": {
            "concerns": True,
            "reasons": ["follow-proceedings"],
            "explanation": "May not follow proceedings.",
        },
    },
    "diversion": {
        "suitable": True,
        "options": ["outcome-22", "conditional-caution"],
        "notes": "Low-value theft of food.",
    },
    "treatment_requirements": {
        "mhtr": {"suitable": True, "consents": True},
        "drr": {"suitable": False, "consents": False},
        "atr": {"suitable": True, "consents": True},
        "notes": "Alcohol service agrees in principle.",
    },
    "youth_requirements": {
        "mental_health_treatment": {"suitable": True, "consents": True},
        "drug_testing": {"suitable": False, "consents": None},
        "notes": "Young people's service agrees in principle.",
    },
    "diagnoses": [
        {
            "code": "35489007",
            "system": "http://snomed.info/sct",
            "display": "Depressive disorder",
            "status": "confirmed",
        },
        {"code": "7200002", "system": "http://snomed.info/sct", "display": "Alcoholism", "status": "provisional"},
        {"code": "32911000", "system": "http://snomed.info/sct", "display": "Homeless", "status": "reported"},
    ],
    "clinical_detail": "PHQ-9 19; AUDIT 31.",
    "risk": {
        "assessment": {"to_self": "high", "to_others": "low", "summary": "Previous overdose in 2021."},
        "safeguarding": {"concerns": True, "summary": "Threatened for money on the street."},
    },
    "referrals": [
        {"service": "Community Mental Health Team", "need": "mental-health", "status": "made", "date": "2026-11-20"},
        {
            "service": "Community Alcohol Service",
            "need": "substance-misuse",
            "status": "attended",
            "date": "2026-11-21",
        },
        {"service": "Housing options", "need": "housing", "status": "declined", "date": "2026-11-22"},
    ],
    "engagement": "Took part fully.",
    "third_party_information": "Her sister is worried about her drinking.",
}


#: The agencies FULL_ASSESSMENT's case links name, and a health recipient (so both case reference
#: fields, the criminal justice ones and the trust's own, carry their links).
AUDIENCE = Audience(
    "MHT-NE", {"POL-NE": "police", "PROB-NE": "probation", "MC-NE": "court", "YOT-NE": "yot", "MHT-NE": "health"}
)


def project(
    assessment: Mapping[str, Any], field_ids: Iterable[str] | None = None, *, released: Iterable[str] | None = None
) -> Projection:
    """What the disclosure path hands the renderer: released, present fields only, each narrowed to what
    it carries (its members; case links by audience), and what the decision released.

    ``field_ids`` are the fields projected (default: all); ``released`` the decision's released set,
    by default every catalogue field (a decision that released everything, of a person with nothing
    recorded but ``field_ids``). A test of a real decision passes its released set as both."""
    released_ids = tuple(CATALOGUE.ids if released is None else released)
    wanted = set(released_ids if field_ids is None else field_ids) & set(released_ids)
    projection = {}
    for field in CATALOGUE:
        if field.id in wanted:
            value = field_value(assessment, field, AUDIENCE)
            if value is not None:
                projection[field.id] = copy.deepcopy(value)
    return Projection(projection, released=released_ids)


def released(values: Mapping[str, Any], field_ids: Iterable[str] | None = None) -> Projection:
    """``values`` as projected by a decision that released ``field_ids`` (default: every catalogue field)."""
    return Projection(values, released=CATALOGUE.ids if field_ids is None else field_ids)


def full_projection() -> Projection:
    return project(FULL_ASSESSMENT)


def make_meta(**overrides: Any) -> DocumentMeta:
    values: dict[str, Any] = {
        "bundle_id": "4b0c6f7e-5d1a-4c38-9d6b-2f0a7c1e9b11",
        "disclosure_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "assessment_id": "7d4e1b0a-3c2f-4e5d-8a9b-0c1d2e3f4a5b",
        "assessment_version": 2,
        "timestamp": datetime(2026, 11, 26, 12, 30, 15, 250000, tzinfo=UTC),
        "publisher_name": "North East L&D Service",
        "publisher_code": "LD-NE",
        "recipient_agency_code": "POL-NE",
        "recipient_agency_type": "police",
        "purpose": "charging",
        "obligations": ("confidentiality:R", "refrain:NORDSCLCD"),
        "withheld_count": 0,
        "withheld": (),
    }
    values.update(overrides)
    return DocumentMeta(**values)


def example_assessments() -> dict[str, dict[str, Any]]:
    """The published example assessments, when another engineer has written them."""
    if not EXAMPLES_DIR.is_dir():
        return {}
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(EXAMPLES_DIR.glob("*.json"))}


# --- canaries ----------------------------------------------------------------------------------

#: Leaves bound to closed value sets (the renderer maps them and rejects unknown values); every other
#: string leaf gets a canary.
ENUM_KEYS = frozenset({"use", "status", "to_self", "to_others"})


def canary_prefix(field_index: int) -> str:
    return f"ZQX{field_index:02d}L"


def plant(value: Any, prefix: str, planted: list[str], key: str | None = None) -> Any:
    """Append a unique canary to every free-text string leaf of ``value``; record each one."""
    if isinstance(value, str):
        if key in ENUM_KEYS:
            return value
        canary = f"{prefix}{len(planted):02d}Z"
        planted.append(canary)
        return value + canary
    if isinstance(value, list):
        return [plant(v, prefix, planted, key) for v in value]
    if isinstance(value, dict):
        return {k: plant(v, prefix, planted, k) for k, v in value.items()}
    return value


def canaried_projection() -> tuple[Projection, dict[str, list[str]]]:
    """The full projection with canaries in every field; returns it and field id -> its canaries."""
    projection = full_projection()
    canaries: dict[str, list[str]] = {}
    for index, field_id in enumerate(CATALOGUE.ids):
        planted: list[str] = []
        projection[field_id] = plant(projection[field_id], canary_prefix(index), planted)
        assert planted, f"{field_id} has no text to carry a canary"
        canaries[field_id] = planted
    return projection, canaries


# --- strict document checks ---------------------------------------------------------------------

XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"
_UUID_URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: Required bindings fhir.resources does not enforce, checked here.
REQUIRED_CODES = {
    ("Composition", "status"): {"preliminary", "final", "amended", "entered-in-error"},
    ("Flag", "status"): {"active", "inactive", "entered-in-error"},
    ("Observation", "status"): {"registered", "preliminary", "final", "amended"},
    ("ClinicalImpression", "status"): {"in-progress", "completed", "entered-in-error"},
    ("RiskAssessment", "status"): {"registered", "preliminary", "final", "amended"},
    ("ServiceRequest", "status"): {"draft", "active", "on-hold", "revoked", "completed", "unknown"},
    ("ServiceRequest", "intent"): {"proposal", "plan", "directive", "order", "original-order"},
    ("Consent", "status"): {"draft", "proposed", "active", "rejected", "inactive"},
}
NAME_USES = {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"}


def _walk_empty(node: Any, path: str) -> None:
    assert node is not None, f"null at {path}"
    if isinstance(node, dict):
        assert node, f"empty object at {path}"
        for k, v in node.items():
            _walk_empty(v, f"{path}.{k}")
    elif isinstance(node, list):
        assert node, f"empty array at {path}"
        for i, v in enumerate(node):
            _walk_empty(v, f"{path}[{i}]")
    elif isinstance(node, str):
        assert node.strip(), f"empty string at {path}"


def _references(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from _references(v)
    elif isinstance(node, list):
        for v in node:
            yield from _references(v)


def _divs(node: Any) -> Iterable[str]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "div" and isinstance(v, str):
                yield v
            else:
                yield from _divs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _divs(v)


def check_document(bundle: dict[str, Any]) -> None:
    """fhir.resources validation of the Bundle and of each entry as its own type, plus the rules
    fhir.resources does not check."""
    # Validating the Bundle validates each entry's resource as the model its resourceType names (the
    # type check below proves it): validating each entry again on its own doubled the cost for nothing.
    parsed = Bundle.model_validate(bundle)
    _walk_empty(bundle, "Bundle")
    assert bundle["type"] == "document"
    assert bundle["identifier"]["system"] == "urn:ietf:rfc:3986"
    assert _UUID_URN.match(bundle["identifier"]["value"])
    assert bundle["timestamp"]
    entries = bundle["entry"]
    assert entries[0]["resource"]["resourceType"] == "Composition"
    full_urls = [e["fullUrl"] for e in entries]
    assert len(set(full_urls)) == len(full_urls), "fullUrl values must be unique"
    assert parsed.entry is not None and len(parsed.entry) == len(entries)
    for entry, parsed_entry in zip(entries, parsed.entry, strict=True):
        resource = entry["resource"]
        assert _UUID_URN.match(entry["fullUrl"])
        assert entry["fullUrl"] == "urn:uuid:" + resource["id"]
        assert type(parsed_entry.resource) is get_fhir_model_class(resource["resourceType"])
        for (rtype, element), allowed in REQUIRED_CODES.items():
            if resource["resourceType"] == rtype:
                assert resource.get(element) in allowed, f"{rtype}.{element} = {resource.get(element)!r}"
        if resource["resourceType"] == "Patient":
            for name in resource.get("name", []):
                assert name.get("use", "usual") in NAME_USES
    for ref in _references(bundle):
        if ref.startswith("urn:uuid:"):
            assert ref in full_urls, f"dangling reference {ref}"
    for div in _divs(bundle):
        root = ET.fromstring(div)  # well-formed XML or this raises
        assert root.tag == XHTML_DIV
        assert "".join(root.itertext()).strip(), "narrative must not be empty"
    composition = entries[0]["resource"]
    for section in composition.get("section", []):
        assert "text" in section or "entry" in section
        for ref in section.get("entry", []):
            assert ref["reference"] in full_urls


def resources_of(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]


def section_titles(bundle: dict[str, Any]) -> list[str]:
    return [s["title"] for s in bundle["entry"][0]["resource"].get("section", [])]
