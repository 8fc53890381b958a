"""GET /fhir/Bundle and POST /fhir/Bundle/_search over HTTP: the standard chained parameter, the
alias, _count and _format; searchset entries with fullUrl (readable at that URL) and search.mode."""

from __future__ import annotations

import json

from fhir.resources.R4B.bundle import Bundle

from gateway.assessments import store
from tests.factories import example, publish

NHS = "https://fhir.nhs.uk/Id/nhs-number|9449305552"


def _search(gateway, query: str, agency: str = "POL-NE", purpose: str = "charging"):
    return gateway.http.get(f"/fhir/Bundle?{query}", auth=gateway.auth(agency, purpose))


def test_chained_parameter_gives_searchset_with_full_urls(gateway):
    response = _search(gateway, f"composition.patient.identifier={NHS}&_format=json")
    assert response.status_code == 200, response.text
    body = response.json()
    Bundle.model_validate(body)
    assert body["type"] == "searchset" and "total" not in body
    (entry,) = body["entry"]
    assert entry["search"] == {"mode": "match"}
    assert entry["fullUrl"] == f"http://testserver/fhir/Bundle/{entry['resource']['id']}"
    # The fullUrl is where the document is read.
    read = gateway.http.get(entry["fullUrl"].removeprefix("http://testserver"), auth=gateway.auth("POL-NE", "charging"))
    assert read.status_code == 200 and read.json()["id"] == entry["resource"]["id"]


def test_alias_still_works(gateway):
    assert _search(gateway, f"patient.identifier={NHS}").status_code == 200


def test_count_keeps_the_newest(gateway):
    second = example("adult.json")
    second["local_reference"] = "LD-NE-second-record"
    publish(gateway.sessions, gateway.keyring, second)
    both = _search(gateway, f"composition.patient.identifier={NHS}").json()
    assert len(both["entry"]) == 2
    one = _search(gateway, f"composition.patient.identifier={NHS}&_count=1")
    assert one.status_code == 200
    (entry,) = one.json()["entry"]
    with gateway.sessions() as session:
        ids = store.assessment_ids_for_subject(session, gateway.published.subject_id)
    assert entry["resource"]["id"] == ids[-1]
    assert len(one.headers["X-Disclosure-Id"].split(",")) == 1  # only what was disclosed is logged as such


def test_search_by_post(gateway):
    response = gateway.http.post(
        "/fhir/Bundle/_search",
        data={"composition.patient.identifier": NHS, "_count": "5"},
        auth=gateway.auth("POL-NE", "charging"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "searchset"
    assert response.headers["X-Disclosure-Id"]
    bad = gateway.http.post(
        "/fhir/Bundle/_search",
        content=json.dumps({"patient.identifier": NHS}),
        headers={"Content-Type": "application/json"},
        auth=gateway.auth("POL-NE", "charging"),
    )
    assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    assert bad.headers["X-Disclosure-Id"]  # the refusal is logged


def test_refusals_name_every_problem_and_are_logged(gateway):
    response = _search(gateway, "_count=0&gender=male")
    assert response.status_code == 400
    outcome = response.json()
    assert {e for i in outcome["issue"] for e in i["expression"]} == {
        "gender",
        "_count",
        "composition.patient.identifier",
    }
    assert response.headers["X-Disclosure-Id"]
    xml = _search(gateway, f"composition.patient.identifier={NHS}&_format=xml")
    assert xml.status_code == 406 and xml.json()["resourceType"] == "OperationOutcome"
