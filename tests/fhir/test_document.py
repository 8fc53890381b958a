"""The document Bundle: valid FHIR, deterministic, labelled, built only from what it was given."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from gateway.fhir import RENDERED_FIELDS, DocumentMeta, Projection, document_bytes, render_document
from gateway.fhir import terminology as t
from tests.fhir.fixtures import (
    CATALOGUE,
    FULL_ASSESSMENT,
    LABELS,
    ROOT,
    check_document,
    example_assessments,
    full_projection,
    make_meta,
    project,
    released,
    resources_of,
    section_titles,
)

ALL_SECTIONS = [
    "Assessment",
    "Vulnerability",
    "Needs and adjustments",
    "Fitness",
    "Diversion",
    "Treatment requirements",
    "Clinical",
    "Risk and safeguarding",
    "Referrals and engagement",
    "Third-party information",
    "Consent",
]

SECTION_OF = {
    "assessment.context": "Assessment",
    "vulnerability.summary": "Vulnerability",
    "needs.appropriate_adult": "Needs and adjustments",
    "needs.communication": "Needs and adjustments",
    "needs.intermediary": "Needs and adjustments",
    "fitness.interview": "Fitness",
    "fitness.plead": "Fitness",
    "diversion.suitability": "Diversion",
    "treatment.requirements": "Treatment requirements",
    "treatment.youth_requirements": "Treatment requirements",
    "clinical.diagnoses": "Clinical",
    "clinical.detail": "Clinical",
    "clinical.capacity": "Clinical",
    "risk.assessment": "Risk and safeguarding",
    "risk.safeguarding": "Risk and safeguarding",
    "referrals.made": "Referrals and engagement",
    "referrals.engagement": "Referrals and engagement",
    "third_party.information": "Third-party information",
    "consent.status": "Consent",
    "consent.given_by": "Consent",
}


def render(projection, **meta):
    """Render ``projection``; a plain mapping as released by a decision that released every field."""
    if not isinstance(projection, Projection):
        projection = released(projection)
    return render_document(projection, make_meta(**meta), LABELS)


def security_codes(bundle):
    return [(c["system"], c["code"]) for c in bundle.get("meta", {}).get("security", [])]


# (a) the full projection is a valid document, every entry valid as its own type ----------------------


def test_full_projection_renders_a_valid_document():
    bundle = render(full_projection())
    check_document(bundle)
    assert section_titles(bundle) == ALL_SECTIONS
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types[:3] == ["Composition", "Patient", "Organization"]
    for expected in (
        "ClinicalImpression",
        "Flag",
        "Observation",
        "RiskAssessment",
        "Condition",
        "ServiceRequest",
        "Consent",
    ):
        assert expected in types


def test_full_document_content():
    bundle = render(full_projection())
    composition = bundle["entry"][0]["resource"]
    assert composition["status"] == "amended"  # make_meta() renders version 2
    assert composition["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11488-4",
        "display": "Consult note",
    }
    assert composition["confidentiality"] == "R"
    assert composition["identifier"]["value"] == make_meta().assessment_id
    patient = resources_of(bundle, "Patient")[0]
    assert composition["subject"]["reference"] == "urn:uuid:" + patient["id"]
    systems = {i["system"]: i["value"] for i in patient["identifier"]}
    assert systems[t.NHS_NUMBER_SYSTEM] == "9000000009"
    assert systems[t.PNC_ID_SYSTEM] == "2020/0000009N"
    assert systems[t.CRO_NUMBER_SYSTEM] == "123456/08T"
    assert systems[t.CRN_SYSTEM] == "X123456"
    assert systems[t.case_reference_system("POL-NE")] == "01NE0012326"
    assert systems[t.case_reference_system("MHT-NE")] == "MHT-778812"
    assert patient["birthDate"] == "1990-04-01"
    assert [n.get("use") for n in patient["name"]] == ["official", "nickname"]
    org = resources_of(bundle, "Organization")[0]
    assert org["identifier"] == [{"system": t.AGENCY_CODE_SYSTEM, "value": "LD-NE"}]
    assert "ods-organization-code" not in json.dumps(bundle)

    impression = resources_of(bundle, "ClinicalImpression")[0]
    assert impression["summary"] == FULL_ASSESSMENT["vulnerability_summary"]
    flags = {f["code"]["coding"][0]["code"] for f in resources_of(bundle, "Flag")}
    assert flags == {
        "appropriate-adult-required",
        "communication-needs",
        "intermediary-recommended",
        "risk-of-harm",
        "safeguarding-concerns",
    }
    observations = {o["code"]["coding"][0]["code"] for o in resources_of(bundle, "Observation")}
    assert observations == {
        "fitness-to-interview",
        "fitness-to-plead-concerns",
        "diversion-suitability",
        "treatment-requirement-suitability",
        "youth-requirement-suitability",
    }
    conditions = resources_of(bundle, "Condition")
    assert [c["code"]["coding"][0]["code"] for c in conditions] == ["35489007", "7200002", "32911000"]
    assert [c["verificationStatus"]["coding"][0]["code"] for c in conditions] == [
        "confirmed",
        "provisional",
        "unconfirmed",
    ]
    requests = resources_of(bundle, "ServiceRequest")
    assert [r["status"] for r in requests] == ["active", "completed", "revoked"]
    consent = resources_of(bundle, "Consent")[0]
    assert consent["status"] == "active"
    assert consent["provision"]["purpose"][0]["code"] == "charging"
    risk = resources_of(bundle, "RiskAssessment")[0]
    assert [p["qualitativeRisk"]["coding"][0]["code"] for p in risk["prediction"]] == ["high", "low"]


def test_narrative_is_escaped():
    bundle = render(project(FULL_ASSESSMENT, ["vulnerability.summary"]))
    div = bundle["entry"][0]["resource"]["section"][0]["text"]["div"]
    assert "depression &amp; drinks" in div
    assert "&quot;loses track&quot;" in div
    assert "&lt;b&gt;" in div and "<b>." not in div


def test_resources_carry_their_own_field_labels():
    bundle = render(full_projection())
    for resource in resources_of(bundle, "Condition"):
        assert {c["code"] for c in resource["meta"]["security"]} == {"PSY", "ETH"}
    safeguarding = next(
        f for f in resources_of(bundle, "Flag") if f["code"]["coding"][0]["code"] == "safeguarding-concerns"
    )
    assert [c["code"] for c in safeguarding["meta"]["security"]] == ["SOC"]
    assert "security" not in resources_of(bundle, "Patient")[0]["meta"]


@pytest.mark.parametrize("name", sorted(example_assessments()) or ["(none yet)"])
def test_example_assessments_render_valid_documents(name):
    examples = example_assessments()
    if name not in examples:
        pytest.skip("schemas/examples has no example assessments yet")
    bundle = render(project(examples[name]))
    check_document(bundle)


def test_every_subset_of_fields_renders_a_valid_document():
    rng = random.Random(20261126)
    ids = list(CATALOGUE.ids)
    for _ in range(60):
        subset = rng.sample(ids, rng.randint(0, len(ids)))
        check_document(render(project(FULL_ASSESSMENT, subset)))


@pytest.mark.parametrize("field_id", CATALOGUE.ids)
def test_each_field_alone_opens_only_its_own_section(field_id):
    bundle = render(project(FULL_ASSESSMENT, [field_id]))
    check_document(bundle)
    expected = [SECTION_OF[field_id]] if field_id in SECTION_OF else []
    assert section_titles(bundle) == expected


def test_renderer_knows_exactly_the_catalogue_fields():
    assert set(CATALOGUE.ids) == RENDERED_FIELDS
    assert set(CATALOGUE.ids) == set(SECTION_OF) | {f for f in CATALOGUE.ids if f.startswith("identity.")}


# (c) the empty projection: a valid minimal document ---------------------------------------------------


def test_empty_projection_renders_minimal_valid_document():
    bundle = render({})
    check_document(bundle)
    assert [e["resource"]["resourceType"] for e in bundle["entry"]] == ["Composition", "Patient", "Organization"]
    composition = bundle["entry"][0]["resource"]
    assert "section" not in composition
    patient = bundle["entry"][1]["resource"]
    assert set(patient) == {"resourceType", "id", "meta"}
    assert patient["meta"] == {"profile": [t.UKCORE_PROFILE["Patient"]]}


def test_patient_carries_only_released_identity():
    bundle = render(project(FULL_ASSESSMENT, ["identity.pnc_id"]))
    patient = resources_of(bundle, "Patient")[0]
    assert patient["identifier"] == [{"system": t.PNC_ID_SYSTEM, "value": "2020/0000009N"}]
    assert "name" not in patient and "birthDate" not in patient


def test_empty_values_leave_no_section():
    projection = {"clinical.diagnoses": [], "referrals.made": [], "needs.communication": {"needs": []}}
    bundle = render(projection)
    check_document(bundle)
    assert section_titles(bundle) == []


# (d) determinism --------------------------------------------------------------------------------------


def test_same_input_same_bytes():
    first = document_bytes(render(full_projection()))
    second = document_bytes(render(full_projection()))
    assert first == second


def test_bytes_do_not_depend_on_mapping_order():
    projection = full_projection()
    keys = list(projection)
    random.Random(7).shuffle(keys)
    shuffled = released({k: projection[k] for k in keys})
    labels = dict(reversed(list(LABELS.items())))
    assert document_bytes(render_document(shuffled, make_meta(), labels)) == document_bytes(render(projection))


def test_ids_are_derived_from_the_disclosure_id():
    one = render(full_projection())
    two = render(full_projection(), disclosure_id="6f1c2a0e-4b7d-4e0a-9c3b-1d2e3f4a5b6c")
    urls_one = {e["fullUrl"] for e in one["entry"]}
    urls_two = {e["fullUrl"] for e in two["entry"]}
    assert not urls_one & urls_two
    assert render(full_projection(), bundle_id="another-bundle")["entry"] == one["entry"]


def test_document_bytes_are_compact_utf8():
    bundle = render(project(FULL_ASSESSMENT, ["vulnerability.summary"]), publisher_name="Gwasanaeth Ŵ")
    raw = document_bytes(bundle)
    assert b": " not in raw and b", " not in raw[:200]
    assert "Ŵ".encode() in raw
    assert json.loads(raw) == bundle


def test_timestamp_is_utc_instant():
    bundle = render({}, timestamp=datetime(2026, 11, 26, 13, 0, tzinfo=timezone(timedelta(hours=1))))
    assert bundle["timestamp"] == "2026-11-26T12:00:00.000Z"


# (e) security labels ----------------------------------------------------------------------------------


def test_meta_security_has_obligations_and_released_sensitivity():
    bundle = render(full_projection())
    codes = security_codes(bundle)
    assert codes[:2] == [(t.CONFIDENTIALITY_SYSTEM, "R"), (t.ACT_CODE_SYSTEM, "NORDSCLCD")]
    assert (t.ACT_CODE_SYSTEM, "PSY") in codes
    assert (t.ACT_CODE_SYSTEM, "ETH") in codes
    assert (t.LOCAL_SENSITIVITY_SYSTEM, "SOC") in codes


def test_psy_only_when_a_psy_field_is_released():
    no_psy = [f.id for f in CATALOGUE if "PSY" not in f.labels]
    bundle = render(project(FULL_ASSESSMENT, no_psy))
    codes = [c for _, c in security_codes(bundle)]
    assert "PSY" not in codes and "ETH" not in codes
    assert b'"PSY"' not in document_bytes(bundle)
    with_psy = render(project(FULL_ASSESSMENT, [*no_psy, "fitness.interview"]))
    assert (t.ACT_CODE_SYSTEM, "PSY") in security_codes(with_psy)


def test_policy_obligation_order_does_not_matter():
    as_policy_lists = render({}, obligations=("refrain:NORDSCLCD", "confidentiality:R"))
    assert document_bytes(as_policy_lists) == document_bytes(render({}))


def test_no_labels_without_released_fields():
    bundle = render({}, obligations=())
    assert "meta" not in bundle
    assert "confidentiality" not in bundle["entry"][0]["resource"]


def test_most_restrictive_confidentiality_wins():
    bundle = render({}, obligations=("confidentiality:R", "refrain:NORDSCLCD", "confidentiality:V"))
    assert security_codes(bundle) == [(t.CONFIDENTIALITY_SYSTEM, "V"), (t.ACT_CODE_SYSTEM, "NORDSCLCD")]
    assert bundle["entry"][0]["resource"]["confidentiality"] == "V"


# failing closed ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("obligation", ["confidentiality:Q", "redisclose:ANY", "refrain", "refrain:", "x y"])
def test_unknown_obligation_is_refused(obligation):
    with pytest.raises(ValueError):
        render({}, obligations=(obligation,))


def test_unknown_field_is_refused():
    with pytest.raises(ValueError, match="does not know"):
        render({"clinical.secret": "x"})


def test_unlabelled_field_is_refused():
    with pytest.raises(ValueError, match="labels"):
        render_document(released({"fitness.interview": {"status": "fit"}}), make_meta(), {})


def test_unknown_sensitivity_label_is_refused():
    with pytest.raises(ValueError, match="sensitivity"):
        render_document(released({"clinical.detail": "x"}), make_meta(), {"clinical.detail": ("XYZ",)})


@pytest.mark.parametrize(
    "projection",
    [
        {"consent.status": {"status": "maybe"}},
        {"clinical.diagnoses": [{"code": "1", "status": "suspected"}]},
        {"referrals.made": [{"service": "S", "status": "lost"}]},
        {"risk.assessment": {"to_self": "extreme"}},
        {"identity.name": [{"use": "stage", "family": "X"}]},
        {"needs.appropriate_adult": {"required": "yes"}},
        {"clinical.diagnoses": {"code": "1"}},
    ],
)
def test_malformed_values_are_refused(projection):
    with pytest.raises(ValueError):
        render(projection)


def test_bad_meta_is_refused():
    with pytest.raises(ValueError):
        render({}, timestamp=datetime(2026, 11, 26, 12, 0))  # naive
    with pytest.raises(ValueError):
        render({}, disclosure_id="not-a-uuid")
    with pytest.raises(ValueError):
        render({}, withheld_count=-1)
    with pytest.raises(ValueError):
        render({}, purpose="")
    with pytest.raises(ValueError):
        render({}, bundle_id="has spaces")


def test_withheld_count_is_recorded_without_naming_fields():
    withheld = tuple((f.id, "not-for-police") for f in CATALOGUE if f.id != "identity.nhs_number")[:5]
    bundle = render(project(FULL_ASSESSMENT, ["identity.nhs_number"]), withheld_count=5, withheld=withheld)
    ext = {e["url"]: e for e in bundle["entry"][0]["resource"]["extension"]}[t.DISCLOSURE_EXTENSION]
    values = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in ext["extension"]}
    assert values["withheldCount"] == 5
    assert values["purposeOfUse"]["code"] == "charging"


def test_meta_is_frozen():
    meta = make_meta()
    with pytest.raises(AttributeError):
        meta.purpose = "x"  # type: ignore[misc]
    assert replace(meta, purpose="sentencing").purpose == "sentencing"


def test_fhir_package_imports_no_database_or_web_framework():
    code = (
        "import sys, gateway.fhir\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'starlette', 'alembic')"
        " or m.startswith('gateway.db')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_resource_ids_are_rfc_uuid5_of_the_disclosure_and_key() -> None:
    """The fast uuid5 the builder uses writes exactly what uuid.uuid5 writes (ids are stable across
    versions of the gateway: a client may have stored them)."""
    import uuid

    from gateway.fhir._builder import _UUID_NAMESPACE, uuid5_text

    for name in ["", "d1/Patient", "5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10/Condition/0", "é/ü/\u2028", "x" * 1000]:
        assert uuid5_text(name) == str(uuid.uuid5(_UUID_NAMESPACE, name))


def test_the_served_bytes_are_json_dumps_bytes_of_the_rendered_document() -> None:
    """render_document_bytes writes without walking the document for floats (the projection has none):
    byte for byte what json.dumps writes, for every example and the full projection."""
    from gateway.fhir import render_document_bytes

    projections = [full_projection(), *(project(a) for a in example_assessments().values())]
    for projection in projections:
        expected = json.dumps(render(projection), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        assert render_document_bytes(projection, make_meta(), LABELS) == expected
        assert document_bytes(render(projection)) == expected


def test_a_withheld_count_without_the_withheld_fields_is_refused_not_rendered_as_nothing_withheld():
    """Defect: ``withheld`` defaulted to empty and was checked only when given, so a caller that counted
    withheld fields but named none got a document that withheld nothing: a child's Consent then named
    the child as the one who decided (capacity information the policy had withheld)."""
    projection = project(FULL_ASSESSMENT, ["consent.status"])
    with pytest.raises(ValueError, match="withheld_count must count"):
        render(projection, subject_minor=True, withheld_count=1, withheld=())
    with pytest.raises(ValueError, match="withheld_count must count"):
        render(projection, withheld_count=0, withheld=(("consent.given_by", "child-consent-decider"),))
    with pytest.raises(TypeError, match="withheld"):
        DocumentMeta(**{k: v for k, v in vars(make_meta(withheld_count=1)).items() if k != "withheld"})
    # Named, it is the child's Consent with nobody said to have decided.
    bundle = render(projection, subject_minor=True, withheld_count=1, withheld=(("consent.given_by", "r"),))
    (consent,) = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Consent"]
    assert "performer" not in consent
