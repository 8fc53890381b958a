"""Canaries through the real hot path: what each audience must never receive.

- a capacity / best-interests explanation (clinical) reaches health, and probation at sentencing with
  consent, and nobody else; never through the consent status;
- a health agency's case reference reaches that agency only, never a criminal justice agency nor
  another health agency;
- criminal-justice identifiers (PNC ID, CRO, CRN and CJ agencies' case references) never reach health;
- the earlier free-text appropriate-adult reason and fitness notes (which could name a diagnosis) reach
  nobody: police and courts get coded reasons and text written for them;
- a recorded date of death (kept for retention) reaches nobody.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from gateway.auth.rfc9068 import AccessContext
from gateway.disclosure.service import DisclosureService
from gateway.keys import load_or_create_keyring
from gateway.policy import EmbeddedRegoEngine
from tests.conftest import ROOT
from tests.factories import DEMO_AGENCIES, NOW, add_agencies, example, publish

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")

CAPACITY = "QXCAPACITYCANARY"
OWN_REF, OTHER_TRUST_REF = "MHT-REF-QX1", "MHT-REF-QX2"
OLD_REASON, OLD_NOTES = "QXOLDREASONCANARY", "QXOLDNOTESCANARY"
DIED = "2026-11-28"  # a date nothing else in the example carries
AGENCIES = (*DEMO_AGENCIES, ("CPS-NE", "cps"), ("MHT-XX", "health"))

READERS = [  # (agency code, agency type, purpose)
    ("POL-NE", "police", "custody"),
    ("POL-NE", "police", "charging"),
    ("CPS-NE", "cps", "charging"),
    ("MC-NE", "court", "case-management"),
    ("MC-NE", "court", "sentencing"),
    ("PROB-NE", "probation", "case-management"),
    ("PROB-NE", "probation", "sentencing"),
    ("MHT-NE", "health", "health-referral"),
    ("MHT-XX", "health", "health-referral"),
]


@pytest.fixture(scope="module")
def rego():
    return EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids)


def _document(base: str) -> dict:
    document = copy.deepcopy(example(base))
    document["case_links"] = [
        *document["case_links"],
        {"agency_code": "CPS-NE", "case_reference": "CPS-QX-77"},
        {"agency_code": "MHT-NE", "case_reference": OWN_REF},
        {"agency_code": "MHT-XX", "case_reference": OTHER_TRUST_REF},
    ]
    document["consent"]["best_interests_decision"] = f"Capacity assessed for this decision {CAPACITY}."
    document["needs"]["appropriate_adult"]["reason"] = f"Named condition {OLD_REASON}."
    document["fitness"]["interview"]["notes"] = f"Named condition {OLD_NOTES}."
    document["subject"]["date_of_death"] = DIED
    return document


@pytest.fixture
def adult(session_factory, tmp_path, rego):
    keyring = load_or_create_keyring(tmp_path / "keys")
    add_agencies(session_factory, AGENCIES)
    document = _document("adult.json")
    publish(session_factory, keyring, document)
    service = DisclosureService(
        sessions=session_factory, keyring=keyring, engine=rego, catalogue=CATALOGUE, clock=lambda: NOW
    )
    return service, document


def pull(service: DisclosureService, document: dict, code: str, agency_type: str, purpose: str) -> str:
    ctx = AccessContext(f"client-{code}", code, agency_type, purpose, "jti", NOW + timedelta(minutes=5))
    result = service.search(ctx, NHS_NUMBER_SYSTEM, document["subject"]["nhs_number"], "http://gateway/fhir/Bundle")
    assert result.status == 200, (code, purpose, result.body[:200])
    return result.body.decode("utf-8")


def _cj_values(document: dict) -> list[str]:
    subject = document["subject"]
    ids = [subject[k] for k in ("pnc_id", "cro_number", "crn") if subject.get(k)]
    refs = [link["case_reference"] for link in document["case_links"] if not link["agency_code"].startswith("MHT")]
    return ids + refs


@pytest.mark.parametrize("reader", READERS, ids=lambda r: f"{r[0]}-{r[2]}")
def test_each_audience_gets_only_its_own_identifiers_and_text(adult, reader):
    service, document = adult
    code, agency_type, purpose = reader
    body = pull(service, document, code, agency_type, purpose)

    # The earlier free text that could name a diagnosis goes to nobody; nor does a date of death.
    assert OLD_REASON not in body and OLD_NOTES not in body
    assert DIED not in body and "deceased" not in body
    # The capacity explanation: health, and probation at sentencing with consent; never anyone else.
    assert (CAPACITY in body) == (agency_type == "health" or (agency_type, purpose) == ("probation", "sentencing"))
    # A health agency's case reference: that agency only.
    assert (OWN_REF in body) == (code == "MHT-NE")
    assert (OTHER_TRUST_REF in body) == (code == "MHT-XX")
    # Criminal-justice identifiers and case references: every criminal justice reader, never health.
    for value in _cj_values(document):
        assert (value in body) == (agency_type != "health"), value


def test_the_consent_status_carries_status_scope_and_date_only(adult):
    service, document = adult
    (match,) = json.loads(pull(service, document, "POL-NE", "police", "custody"))["entry"]
    body = match["resource"]  # the document Bundle inside the searchset
    consent = next(e["resource"] for e in body["entry"] if e["resource"]["resourceType"] == "Consent")
    assert consent["dateTime"] == document["consent"]["recorded_at"]
    narrative = json.dumps(body["entry"][0]["resource"]["section"])
    assert "Gillick" not in narrative and "Best-interests" not in narrative


def test_police_in_custody_get_coded_reasons_and_text_written_for_them(adult):
    service, document = adult
    body = pull(service, document, "POL-NE", "police", "custody")
    assert document["fitness"]["interview"]["explanation"] in body
    assert "interview-fitness-reason" in body  # the coded reasons
    # Custody is not charging: no diversion notes, no fitness-to-plead concerns.
    assert document["diversion"]["notes"] not in body
    assert document["fitness"]["plead"]["explanation"] not in body
