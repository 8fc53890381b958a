"""Provenance across two L&D services: a case link opens only its declarer's assessments.

LD-NE publishes the adult example (linked to POL-NE, MC-NE, PROB-NE). A second service, LD-NW, publishes
its own assessment of a person with the same NHS number and links its own agencies (POL-NW, MC-NW). An
agency that only LD-NW linked must never receive LD-NE's document, by search or by id, whether the two
records agree on name and date of birth (one person, two records) or not (a mistyped NHS number). All
through the whole app over HTTP with real tokens, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from gateway.auth import registry
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from tests.court_requests.conftest import task_body
from tests.factories import example

ADULT = example("adult.json")
NHS = ADULT["subject"]["nhs_number"]
PNC = ADULT["subject"]["pnc_id"]
UNKNOWN_BUNDLE = "00000000-0000-4000-8000-000000000000"
SECOND = (
    ("LD-NW", "ld-service", ("ld-service",)),
    ("POL-NW", "police", ("charging",)),
    ("MC-NW", "court", ("case-management", "sentencing")),
)


@pytest.fixture
def two_services(gateway):
    """The review gateway (LD-NE's adult published) plus a second L&D service and the agencies it links."""
    with gateway.sessions.begin() as session:
        for code, type_, purposes in SECOND:
            registry.add_agency(session, code, f"Agency {code}", type_)
            gateway.clients[code] = registry.add_client(session, code, list(purposes), jwks=gateway.key.jwks).client_id
    return gateway


def second_record(template: str = "adult.json", **subject: Any) -> dict[str, Any]:
    """LD-NW's own record, linked only to LD-NW's agencies; ``subject`` overrides subject elements."""
    document = copy.deepcopy(example(template))
    document["local_reference"] = "LD-NW-2026-000001"
    document["subject"].update(subject)
    document["case_links"] = [
        {"agency_code": "POL-NW", "case_reference": "01NW0012326"},
        {"agency_code": "MC-NW", "case_reference": "3019999999"},
    ]
    return document


def publish_as(gw, document: dict[str, Any], agency: str = "LD-NW"):
    return gw.http.post("/assessments", json=document, auth=gw.auth(agency, "ld-service"))


def search(gw, agency: str, purpose: str, system: str = NHS_NUMBER_SYSTEM, value: str = NHS):
    query = {"patient.identifier": f"{system}|{value}"}
    return gw.http.get("/fhir/Bundle", params=query, auth=gw.auth(agency, purpose))


def read(gw, agency: str, purpose: str, bundle_id: str):
    return gw.http.get(f"/fhir/Bundle/{bundle_id}", auth=gw.auth(agency, purpose))


def composition_ids(response) -> set[str]:
    """The assessment ids (Composition.identifier) of every document in a searchset or a single document."""
    body = response.json()
    documents = [e["resource"] for e in body["entry"]] if body["type"] == "searchset" else [body]
    return {d["id"] for d in documents}


def test_one_person_two_services_each_link_opens_only_its_declarers_record(two_services):
    gw = two_services
    ne_id = gw.published.assessment_id
    published = publish_as(gw, second_record())  # the same person: same NHS number, name and date of birth
    assert published.status_code == 201, published.text
    nw_id = published.json()["id"]
    assert nw_id != ne_id

    unknown = read(gw, "POL-NW", "charging", UNKNOWN_BUNDLE)
    assert unknown.status_code == 404
    for system, value in ((NHS_NUMBER_SYSTEM, NHS), (PNC_ID_SYSTEM, PNC)):
        nw_police = search(gw, "POL-NW", "charging", system, value)
        assert nw_police.status_code == 200, nw_police.text
        assert composition_ids(nw_police) == {nw_id}, "LD-NE's record reached an agency only LD-NW linked"
        ne_police = search(gw, "POL-NE", "charging", system, value)
        assert composition_ids(ne_police) == {ne_id}, "LD-NW's record reached an agency only LD-NE linked"
    # By id: the other service's record answers exactly as a bundle nobody has.
    refused = read(gw, "POL-NW", "charging", ne_id)
    assert (refused.status_code, refused.content) == (404, unknown.content)
    assert read(gw, "POL-NW", "charging", nw_id).status_code == 200
    other_way = read(gw, "POL-NE", "charging", nw_id)
    assert (other_way.status_code, other_way.content) == (404, unknown.content)
    assert composition_ids(read(gw, "MC-NW", "case-management", nw_id)) == {nw_id}
    assert read(gw, "MC-NW", "case-management", ne_id).content == unknown.content


def test_a_different_person_under_the_same_nhs_number_never_opens_the_first_record(two_services):
    """LD-NW's child shares the adult's (mistyped) NHS number: the court it linked never sees the adult."""
    gw = two_services
    ne_id = gw.published.assessment_id
    child = example("child.json")["subject"]
    publish_as(gw, second_record("child.json", nhs_number=NHS))
    unknown = read(gw, "MC-NW", "case-management", UNKNOWN_BUNDLE)
    for system, value in ((NHS_NUMBER_SYSTEM, NHS), (PNC_ID_SYSTEM, child["pnc_id"]), (PNC_ID_SYSTEM, PNC)):
        for purpose in ("case-management", "sentencing"):
            answer = search(gw, "MC-NW", purpose, system, value)
            assert ne_id not in answer.text, f"the adult's record reached the child's court ({system})"
            if answer.status_code == 200:
                assert ne_id not in composition_ids(answer)
    refused = read(gw, "MC-NW", "case-management", ne_id)
    assert (refused.status_code, refused.content) == (404, unknown.content)
    # Nor does the adult's family name reach the child's court in any answer.
    assert ADULT["subject"]["names"][0]["family"] not in search(gw, "MC-NW", "case-management").text


def test_a_later_publisher_never_takes_over_a_routed_request(two_services):
    """MC-NW asks about the person while only LD-NE has them; LD-NW publishes afterwards. The request stays
    LD-NE's: LD-NW can neither see nor answer it, and accepting it opens only LD-NE's record to the court."""
    gw = two_services
    created = gw.http.post("/fhir/Task", json=task_body(nhs=NHS), auth=gw.auth("MC-NW", "case-management"))
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["owner"]["identifier"]["value"] == "LD-NE"

    later = second_record()
    later["case_links"] = [{"agency_code": "POL-NW", "case_reference": "01NW0012326"}]
    nw = publish_as(gw, later)
    assert nw.status_code == 201, nw.text

    path = f"/fhir/Task/{task['id']}"
    assert gw.http.get(path, auth=gw.auth("LD-NW", "ld-service")).status_code == 404
    accept = [{"op": "replace", "path": "/status", "value": "accepted"}]
    headers = {"Content-Type": "application/json-patch+json"}
    taken = gw.http.request(
        "PATCH", path, content=json.dumps(accept), headers=headers, auth=gw.auth("LD-NW", "ld-service")
    )
    assert taken.status_code == 404
    assert gw.http.get(path, auth=gw.auth("MC-NW", "case-management")).json()["owner"]["identifier"]["value"] == "LD-NE"
    accepted = gw.http.request(
        "PATCH", path, content=json.dumps(accept), headers=headers, auth=gw.auth("LD-NE", "ld-service")
    )
    assert accepted.status_code == 200, accepted.text
    pulled = search(gw, "MC-NW", "case-management")
    assert pulled.status_code == 200, pulled.text
    assert composition_ids(pulled) == {gw.published.assessment_id}
