"""No personal data in application logs.

End-to-end flows (publish, pull by every agency and route, refusals, invalid input that carries
identifiers in the query, the path and the body, token failures) run with every application logger
captured, the gateway's own at DEBUG (stricter than production's INFO), formatted as `ld-gateway serve`
formats them. Then every example identifier, name, date of birth, case reference, local reference and a
canary planted in every free-text field is searched for in the captured text.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.app_logging import JsonFormatter
from gateway.assessments.catalogue import load_catalogue
from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from gateway.assessments.validation import load_schema
from tests.auth.conftest import assertion_claims, sign_assertion, token_form
from tests.conftest import ROOT
from tests.e2e.canaries import plant, valid_nhs_number
from tests.security.conftest import READERS, person_document

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
SCHEMA = load_schema(ROOT / "schemas")
LOGGERS = ("gateway", "uvicorn", "uvicorn.error", "fastapi", "starlette", "authlib", "joserfc", "sqlalchemy")
CANARY = "PIICANARY-7f3e"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    # httpx and httpcore are the test's client here: they log the URLs the test itself sends.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    saved = {}
    for name in ("", *LOGGERS):
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.handlers[:], logger.propagate)
        logger.addHandler(handler)
        logger.propagate = False
    logging.getLogger("gateway").setLevel(logging.DEBUG)
    logging.getLogger("").setLevel(logging.INFO)
    yield sink
    for name, (level, handlers, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def secrets_of(document: dict[str, Any]) -> set[str]:
    subject = document["subject"]
    values = {subject["nhs_number"], subject["date_of_birth"], document["local_reference"]}
    for key in ("pnc_id", "cro_number", "crn"):
        if subject.get(key):
            values |= {subject[key], subject[key].lower()}
    for name in subject["names"]:
        values |= {name["family"], *name["given"]}
    values |= {link["case_reference"] for link in document["case_links"]}
    return {v for v in values if len(v) >= 4}  # shorter strings match by chance


def with_canaries(document: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    planted, canaries = plant(document, CATALOGUE, SCHEMA)
    return planted, set(canaries.values())


def test_no_personal_data_in_application_logs(security_gateway, captured_logs):
    gw = security_gateway
    rng = random.Random(5)
    publisher = gw.bearer("LD-NE", "ld-service")
    secrets: set[str] = set()
    for person in gw.people.values():
        secrets |= secrets_of(person.document)

    # Publish: new people with canaries in every free-text field, and a new version of one.
    published = []
    for index, (template, linked) in enumerate([("adult.json", ("POL-NE", "PROB-NE")), ("child.json", ("YOT-NE",))]):
        document, canaries = with_canaries(person_document(template, rng, linked, 100 + index))
        secrets |= secrets_of(document) | canaries
        response = gw.http.post("/assessments", json=document, headers=publisher)
        assert response.status_code == 201, response.text
        published.append(document)
    republished = copy.deepcopy(published[0])
    republished["vulnerability_summary"] += f" {CANARY}"
    secrets.add(CANARY)
    assert gw.http.post("/assessments", json=republished, headers=publisher).status_code == 201

    # Invalid publishes that carry personal data: 422 must not echo or log it.
    bad = copy.deepcopy(published[0])
    bad["subject"]["nhs_number"] = "9449305553"
    bad["subject"]["date_of_birth"] = "2099-01-01"
    bad["case_links"].append({"agency_code": "NO-SUCH", "case_reference": "CASEREF-LEAK-1"})
    secrets |= {"9449305553", "CASEREF-LEAK-1"}
    assert gw.http.post("/assessments", json=bad, headers=publisher).status_code == 422
    assert gw.http.post("/assessments", content=b'{"subject": {"names": "Hewitt', headers=publisher).status_code == 400

    # Pulls: every reader, every purpose, every person, every route.
    everyone = [*gw.people.values()]
    for code, _type, purposes in READERS:
        for purpose in purposes:
            headers = gw.bearer(code, purpose)
            for person in everyone:
                for params in (
                    {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"},
                    {"patient.identifier": f"{PNC_ID_SYSTEM}|{person.pnc_id.lower()}"},
                ):
                    assert gw.http.get("/fhir/Bundle", params=params, headers=headers).status_code in (200, 403, 404)
                gw.http.get(f"/fhir/Bundle/{person.assessment_id}", headers=headers)
            for document in published:
                query = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{document['subject']['nhs_number']}"}
                gw.http.get("/fhir/Bundle", params=query, headers=headers)

    # Identifiers where they do not belong: in the path, in unknown parameters, invalid, unknown.
    police = gw.bearer("POL-NE", "charging")
    stranger = valid_nhs_number(rng)
    secrets.add(stranger)
    for path, params in (
        ("/fhir/Bundle", {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{stranger}"}),
        ("/fhir/Bundle", {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|9449305553"}),
        ("/fhir/Bundle", {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{stranger}", "name": "Hewitt"}),
        (f"/fhir/Bundle/{stranger}", None),
        (f"/fhir/Patient/{stranger}", None),
    ):
        assert gw.http.get(path, params=params, headers=police).status_code in (400, 404)
    assert (
        gw.http.get("/fhir/Bundle", params={"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{stranger}"}).status_code == 401
    )

    # Token failures, one with an identifier where the purpose should be.
    assertion = sign_assertion(gw.key, assertion_claims(gw.clients["POL-NE"]), alg="RS512")
    assert gw.http.post("/oauth2/token", data=token_form(assertion, stranger)).status_code == 400
    assert gw.http.post("/oauth2/token", data=token_form("not.a.jwt", "charging")).status_code in (400, 401)

    logs = captured_logs.getvalue()
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert sum(r.get("message") == "request" for r in records) >= 150, "the flows must have been logged"
    assert len(secrets) >= 60, len(secrets)
    leaked = sorted(s for s in secrets if s in logs)
    assert not leaked, f"personal data in application logs: {leaked}"
