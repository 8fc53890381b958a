"""Diagnostic terms in text bound for police or the CPS: warnings at publish (201 still), counted in the log.

Through every door: POST /assessments, POST /fhir/Bundle and ``ld-gateway import`` (all publish_document).
"""

from __future__ import annotations

import json

from sqlalchemy import select

from gateway.db.models import DisclosureLogEntry
from gateway.ingest.text_screen import fields_for_audience
from tests.factories import example
from tests.fhir.test_inbound import as_document
from tests.fixtures.gateway import CATALOGUE

FHIR = {"Content-Type": "application/fhir+json"}

# What police (custody, charging) and the CPS (charging) can receive that is free text, by the policy.
POLICE_CPS_TEXT = [
    "vulnerability.summary",
    "needs.appropriate_adult",
    "needs.communication",
    "needs.intermediary",
    "fitness.interview",
    "fitness.plead",
    "diversion.suitability",
    "risk.assessment",
    "risk.safeguarding",
    "referrals.made",
    "referrals.engagement",
]


def _with_terms():
    doc = example()
    doc["local_reference"] = "LD-NE-2026-TERMS-1"
    doc["needs"]["appropriate_adult"]["explanation"] = "He needs an appropriate adult because of his autism."
    doc["fitness"]["interview"]["explanation"] = "Known PTSD: avoid raised voices."
    # Text no police officer or prosecutor receives may be clinical: no warning.
    doc["clinical_detail"] = "Emotionally unstable personality disorder; on sertraline."
    doc["treatment_requirements"]["notes"] = "Suitable for an MHTR for his depression."
    return doc


def _entries(gateway, event):
    with gateway.sessions() as session:
        rows = session.execute(
            select(DisclosureLogEntry.entry).where(DisclosureLogEntry.event == event).order_by(DisclosureLogEntry.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def _warnings(body):
    return [(i["severity"], i["code"], i["expression"]) for i in body["outcome"]["issue"]]


def test_the_screened_fields_are_the_free_text_the_policy_releases_to_police_or_the_cps(gateway_policy):
    assert [f.id for f in fields_for_audience(gateway_policy, CATALOGUE)] == POLICE_CPS_TEXT


def test_a_publish_with_diagnostic_terms_for_police_is_accepted_with_a_warning_for_each_text(gateway):
    response = gateway.http.post("/assessments", json=_with_terms(), auth=gateway.auth("LD-NE", "ld-service"))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["version"] == 1 and body["created"] is True
    assert body["outcome"]["resourceType"] == "OperationOutcome"
    assert _warnings(body) == [
        ("warning", "business-rule", ["needs.appropriate_adult.explanation"]),
        ("warning", "business-rule", ["fitness.interview.explanation"]),
    ]
    said = json.dumps(body)
    assert "autism" not in said and "PTSD" not in said and "raised voices" not in said, "never the text or term"
    entry = _entries(gateway, "ingest:assessment:published")[-1]
    assert entry["assessment_id"] == body["id"] and entry["diagnostic_term_warnings"] == 2
    assert "autism" not in json.dumps(entry)


def test_clean_text_gets_no_outcome_and_a_count_of_nothing(gateway):
    doc = example()
    doc["local_reference"] = "LD-NE-2026-TERMS-2"
    response = gateway.http.post("/assessments", json=doc, auth=gateway.auth("LD-NE", "ld-service"))
    assert response.status_code == 201, response.text
    assert "outcome" not in response.json()
    assert _entries(gateway, "ingest:assessment:published")[-1]["diagnostic_term_warnings"] == 0


def test_an_identical_republish_is_still_a_no_op_and_is_warned_again(gateway):
    auth = gateway.auth("LD-NE", "ld-service")
    first = gateway.http.post("/assessments", json=_with_terms(), auth=auth)
    again = gateway.http.post("/assessments", json=_with_terms(), auth=auth)

    assert again.status_code == 200
    assert again.json()["version"] == first.json()["version"] == 1 and again.json()["changed"] is False
    assert _warnings(again.json()) == _warnings(first.json())
    last = _entries(gateway, "ingest:assessment:published")[-1]
    assert last["reason"] == "unchanged" and last["diagnostic_term_warnings"] == 2

    corrected = _with_terms()
    corrected["needs"]["appropriate_adult"]["explanation"] = "He needs help to understand his rights."
    corrected["fitness"]["interview"]["explanation"] = "Keep a calm tone; explain each step."
    fixed = gateway.http.post("/assessments", json=corrected, auth=auth)
    assert fixed.status_code == 201 and fixed.json()["version"] == 2 and "outcome" not in fixed.json()


def test_a_fhir_document_is_warned_at_the_elements_that_hold_the_text(gateway):
    doc = _with_terms()
    doc["local_reference"] = "LD-NE-2026-TERMS-3"
    response = gateway.http.post(
        "/fhir/Bundle", json=as_document(doc), auth=gateway.auth("LD-NE", "ld-service"), headers=FHIR
    )
    assert response.status_code == 201, response.text
    issues = response.json()["outcome"]["issue"]
    assert [(i["severity"], i["code"]) for i in issues] == [("warning", "business-rule")] * 2
    for issue, path in zip(issues, ["needs.appropriate_adult.explanation", "fitness.interview.explanation"]):
        assert issue["expression"][0].startswith("Bundle.entry["), issue  # where the supplier wrote it
        assert issue["diagnostics"].startswith(path)
    assert "autism" not in response.text and "PTSD" not in response.text
    assert _entries(gateway, "ingest:assessment:published")[-1]["diagnostic_term_warnings"] == 2


def test_the_other_entries_keep_their_form(gateway):
    gateway.http.post("/assessments", json=_with_terms(), auth=gateway.auth("LD-NE", "ld-service"))
    denied = gateway.http.post("/assessments", json=_with_terms(), auth=gateway.auth("POL-NE", "charging"))
    assert denied.status_code == 403
    assert all("diagnostic_term_warnings" not in e for e in _entries(gateway, "ingest:assessment:denied"))
