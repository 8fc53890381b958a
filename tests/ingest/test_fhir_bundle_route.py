"""POST /fhir/Bundle: an L&D service publishes a FHIR document; it is mapped, validated and stored."""

from __future__ import annotations

import copy
from typing import Any

from gateway.assessments import store
from gateway.assessments.validation import load_schema, validate_assessment
from tests.conftest import ROOT
from tests.fhir.test_inbound import ADULT, as_document, compact

FHIR = {"Content-Type": "application/fhir+json"}


def _assessment(**overrides: Any) -> dict[str, Any]:
    # An adult's assessment: no one person's record can fill every field (youth requirements are a child's).
    doc = copy.deepcopy(ADULT)
    # Jo Smith is not the gateway's published adult (Daniel Hewitt), so not under his PNC ID either: the
    # fixture's PNC ID is his, and a publish contradicting the person an identifier is on record for is refused.
    doc["subject"]["pnc_id"] = "2022/0004242V"
    doc["case_links"] = [{"agency_code": "POL-NE", "case_reference": "01NE0099926"}]
    doc["consent"]["limited_to_agencies"] = ["POL-NE"]
    doc.update(overrides)
    return doc


def test_a_document_is_stored_as_its_canonical_assessment(gateway):
    original = _assessment()
    response = gateway.http.post(
        "/fhir/Bundle", json=as_document(original), auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1 and body["created"] is True
    with gateway.sessions() as session:
        stored = store.load_current(session, gateway.keyring, body["id"])
    assert stored is not None
    expected, _ = validate_assessment(original, load_schema(ROOT / "schemas"))
    assert compact(stored.content) == compact(expected)


def test_a_rejected_document_names_every_bad_element_and_stores_nothing(gateway):
    bundle = as_document(_assessment())
    patient = bundle["entry"][1]["resource"]
    patient["gender"] = "male"
    bundle["entry"][0]["resource"]["extension"].append({"url": "https://example.org/x", "valueString": "y"})
    response = gateway.http.post("/fhir/Bundle", json=bundle, auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR)
    assert response.status_code == 422
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    expressions = [e for issue in outcome["issue"] for e in issue.get("expression", [])]
    assert "Bundle.entry[1].resource.gender" in expressions
    assert "Bundle.entry[0].resource.extension[2]" in expressions
    with gateway.sessions() as session:
        assert len(store.assessment_ids_for_subject(session, gateway.published.subject_id)) == 1


def test_the_mapped_assessment_still_meets_the_canonical_rules(gateway):
    # Maps cleanly, but the NHS number fails its check digit: the ordinary validation refuses it.
    original = _assessment()
    original["subject"] = {**original["subject"], "nhs_number": "9000000001"}
    response = gateway.http.post(
        "/fhir/Bundle", json=as_document(original), auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR
    )
    assert response.status_code == 422
    # Named where the document holds it, with the canonical rule's path in the diagnostics.
    [issue] = response.json()["issue"]
    assert issue["expression"] == ["Bundle.entry[1].resource.identifier[0].value"]
    assert issue["diagnostics"].startswith("subject.nhs_number: ")


def test_content_problems_come_with_the_mapping_problems_in_one_answer(gateway):
    original = _assessment()
    original["subject"] = {**original["subject"], "nhs_number": "9000000001"}
    bundle = as_document(original)
    bundle["entry"][1]["resource"]["gender"] = "male"
    response = gateway.http.post("/fhir/Bundle", json=bundle, auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR)
    assert response.status_code == 422
    expressions = [e for issue in response.json()["issue"] for e in issue["expression"]]
    assert expressions == ["Bundle.entry[1].resource.gender", "Bundle.entry[1].resource.identifier[0].value"]
    assert "9000000001" not in response.text


def test_the_author_must_be_the_publishing_service(gateway):
    bundle = as_document(_assessment())
    index, org = next(
        (i, e["resource"]) for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Organization"
    )
    org["identifier"][0]["value"] = "LD-SW"
    response = gateway.http.post("/fhir/Bundle", json=bundle, auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR)
    assert response.status_code == 422
    [issue] = response.json()["issue"]
    assert (issue["code"], issue["expression"]) == ("forbidden", [f"Bundle.entry[{index}].resource.identifier"])


def test_only_an_ld_service_may_publish(gateway):
    response = gateway.http.post(
        "/fhir/Bundle", json=as_document(_assessment()), auth=gateway.auth("POL-NE", "charging"), headers=FHIR
    )
    assert response.status_code == 403


def test_not_json_is_a_400(gateway):
    response = gateway.http.post("/fhir/Bundle", content=b"{", auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR)
    assert response.status_code == 400
