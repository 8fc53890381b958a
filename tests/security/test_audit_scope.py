"""Audit scope across two L&D services: an L&D service's ``audit.read`` covers only its own assessments.

LD-NE has the adult; LD-NW has its own record of the same adult and the only record of a child. Agencies
each service linked pull. Then each service reads the log through every ``/audit`` route that names a
person or an entry (list, CSV and FHIR exports, one entry, subject report, inclusion proof), by GET and by
POST ``_search``: it sees the disclosures of its own assessments only, and another service's person,
entry or proof answers byte for byte as an unknown one. Whole app over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy

import pytest

from gateway.auth import registry
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM
from tests.factories import example

ADULT_NHS = example("adult.json")["subject"]["nhs_number"]
CHILD_NHS = example("child.json")["subject"]["nhs_number"]
UNKNOWN_NHS = "9434765919"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def two(gateway):
    """Both services' records, and one pull of each by an agency its service linked."""
    gw = gateway
    with gw.sessions.begin() as session:
        for code, type_, purposes in (
            ("LD-NW", "ld-service", ["ld-service"]),
            ("POL-NW", "police", ["charging"]),
        ):
            registry.add_agency(session, code, f"Agency {code}", type_)
            gw.clients[code] = registry.add_client(session, code, purposes, jwks=gw.key.jwks).client_id
    ld_nw = gw.auth("LD-NW", "ld-service")
    for template, reference in (("adult.json", "LD-NW-1"), ("child.json", "LD-NW-2")):
        document = copy.deepcopy(example(template))
        document["local_reference"] = reference
        document["case_links"] = [{"agency_code": "POL-NW", "case_reference": f"01NW00{reference[-1]}2326"}]
        published = gw.http.post("/assessments", json=document, auth=ld_nw)
        assert published.status_code == 201, published.text
    gw.pulls = {}
    for agency, nhs in (("POL-NE", ADULT_NHS), ("POL-NW", ADULT_NHS), ("POL-NW", CHILD_NHS)):
        query = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}
        pulled = gw.http.get("/fhir/Bundle", params=query, auth=gw.auth(agency, "charging"))
        assert pulled.status_code == 200, pulled.text
        gw.pulls[(agency, nhs)] = pulled.headers["X-Disclosure-Id"]
    return gw


def listed(gw, service: str, **params) -> set[str]:
    response = gw.http.get("/audit/disclosures", params={"limit": 500, **params}, auth=gw.auth(service, "ld-service"))
    assert response.status_code == 200, response.text
    return {item["disclosure_id"] for item in response.json()["items"]}


def test_each_service_lists_only_the_disclosures_of_its_own_assessments(two):
    gw = two
    ne_pull, nw_adult, nw_child = (
        gw.pulls[("POL-NE", ADULT_NHS)],
        gw.pulls[("POL-NW", ADULT_NHS)],
        gw.pulls[("POL-NW", CHILD_NHS)],
    )
    ne, nw = listed(gw, "LD-NE"), listed(gw, "LD-NW")
    assert ne_pull in ne and not {nw_adult, nw_child} & ne
    assert {nw_adult, nw_child} <= nw and ne_pull not in nw
    # The same person, through each service's eyes: only that service's disclosures of them.
    assert ne_pull in listed(gw, "LD-NE", nhs_number=ADULT_NHS)
    assert nw_adult not in listed(gw, "LD-NE", nhs_number=ADULT_NHS)
    assert listed(gw, "LD-NW", nhs_number=ADULT_NHS) & {ne_pull, nw_adult} == {nw_adult}
    for fmt in ("csv", "fhir"):
        export = gw.http.get("/audit/disclosures", params={"format": fmt}, auth=gw.auth("LD-NE", "ld-service"))
        assert export.status_code == 200
        assert ne_pull in export.text and nw_adult not in export.text and nw_child not in export.text


def test_another_services_person_entry_and_proof_answer_as_unknown(two):
    gw = two
    auth = gw.auth("LD-NE", "ld-service")
    nw_child = gw.pulls[("POL-NW", CHILD_NHS)]
    # The child exists only in LD-NW's records: for LD-NE the child is nobody.
    for route in ("/audit/disclosures?nhs_number={}", "/audit/subjects/{}/report"):
        theirs = gw.http.get(route.format(CHILD_NHS), auth=auth)
        nobody = gw.http.get(route.format(UNKNOWN_NHS), auth=auth)
        assert (theirs.status_code, theirs.content) == (nobody.status_code, nobody.content) == (200, nobody.content)
    for route in ("/audit/disclosures/{}", "/audit/proofs/inclusion/{}"):
        theirs = gw.http.get(route.format(nw_child), auth=auth)
        nobody = gw.http.get(route.format(UNKNOWN_ID), auth=auth)
        assert (theirs.status_code, theirs.content) == (404, nobody.content), route
    # Its own entry and proof it does get.
    own = gw.pulls[("POL-NE", ADULT_NHS)]
    assert gw.http.get(f"/audit/disclosures/{own}", auth=auth).json()["disclosure_id"] == own
    assert gw.http.get(f"/audit/proofs/inclusion/{own}", auth=auth).status_code == 200
    # The recipient still proves what it was given, whoever published it.
    nw_proof = gw.http.get(f"/audit/proofs/inclusion/{nw_child}", auth=gw.auth("POL-NW", "charging"))
    assert nw_proof.status_code == 200


def test_the_subject_report_of_a_shared_person_holds_only_the_callers_disclosures(two):
    gw = two
    report = gw.http.get(f"/audit/subjects/{ADULT_NHS}/report", auth=gw.auth("LD-NE", "ld-service")).json()
    ids = {e["disclosure_id"] for e in report["entries"]}
    assert gw.pulls[("POL-NE", ADULT_NHS)] in ids and gw.pulls[("POL-NW", ADULT_NHS)] not in ids
    assert report["recipients"] == ["POL-NE"]
    other = gw.http.get(f"/audit/subjects/{ADULT_NHS}/report", auth=gw.auth("LD-NW", "ld-service")).json()
    assert other["recipients"] == ["POL-NW"]


def test_search_by_post_answers_as_the_get_and_keeps_the_nhs_number_out_of_the_url(two):
    gw = two
    for service in ("LD-NE", "LD-NW"):
        auth = gw.auth(service, "ld-service")
        for nhs in (ADULT_NHS, CHILD_NHS, UNKNOWN_NHS):
            by_get = gw.http.get("/audit/disclosures", params={"nhs_number": nhs}, auth=auth)
            by_post = gw.http.post("/audit/disclosures/_search", content=f"nhs_number={nhs}", headers=FORM, auth=auth)
            assert (by_post.status_code, by_post.json()) == (200, by_get.json())
            report_get = gw.http.get(f"/audit/subjects/{nhs}/report", auth=auth)
            report_post = gw.http.post(
                "/audit/subjects/report/_search", content=f"nhs_number={nhs}", headers=FORM, auth=auth
            )
            assert (report_post.status_code, report_post.content) == (200, report_get.content)
    auth = gw.auth("LD-NE", "ld-service")
    bad = gw.http.post("/audit/disclosures/_search", content="limit=0&outcome=maybe", headers=FORM, auth=auth)
    assert bad.status_code == 400 and len(bad.json()["problems"]) == 2
    assert gw.http.post("/audit/subjects/report/_search", content="", headers=FORM, auth=auth).status_code == 400
    not_a_form = gw.http.post("/audit/disclosures/_search", json={"nhs_number": ADULT_NHS}, auth=auth)
    assert not_a_form.status_code == 400
    # A partner agency's token has no audit.read: refused, by POST as by GET.
    police = gw.auth("POL-NE", "charging")
    assert gw.http.post("/audit/disclosures/_search", content="", headers=FORM, auth=police).status_code == 403


def _sign_off(gw, service: str, nhs: str):
    form = f"nhs_number={nhs}&clinician=Dr%20A%20Patel%20GMC%201234567&decision=release"
    return gw.http.post(
        "/audit/subjects/report/sign-off", content=form, headers=FORM, auth=gw.auth(service, "ld-service")
    )


def test_sign_off_of_another_services_person_is_refused_as_unknown_and_leaves_no_trace(two):
    """Defect: LD-NE signed off a person only LD-NW assessed (201), and LD-NW's report then showed it."""
    gw = two
    before = gw.http.get(f"/audit/subjects/{CHILD_NHS}/report", auth=gw.auth("LD-NW", "ld-service")).content
    theirs, nobody = _sign_off(gw, "LD-NE", CHILD_NHS), _sign_off(gw, "LD-NE", UNKNOWN_NHS)
    assert (theirs.status_code, theirs.content) == (404, nobody.content)
    after = gw.http.get(f"/audit/subjects/{CHILD_NHS}/report", auth=gw.auth("LD-NW", "ld-service")).content
    assert after == before and b"signed-off" not in after
    assert "audit:report:signed-off" not in gw.http.get("/audit/disclosures", auth=gw.auth("LD-NW", "ld-service")).text
    # Its own person the service signs off.
    assert _sign_off(gw, "LD-NW", CHILD_NHS).status_code == 201


def test_a_sign_off_of_a_person_both_services_assessed_is_the_signers_alone(two):
    """A sign-off names no assessment; the other service that also holds the person must not see it."""
    gw = two
    signed = _sign_off(gw, "LD-NE", ADULT_NHS)
    assert signed.status_code == 201, signed.text
    entry = signed.json()["disclosure_id"]
    ne, nw = gw.auth("LD-NE", "ld-service"), gw.auth("LD-NW", "ld-service")
    assert gw.http.get(f"/audit/subjects/{ADULT_NHS}/report", auth=ne).json()["sign_off"]["signed_off"] is True
    other = gw.http.get(f"/audit/subjects/{ADULT_NHS}/report", auth=nw).json()
    assert other["sign_off"] == {"signed_off": False, "current": False}
    assert "audit:report:signed-off" not in other["by_event"]
    assert entry not in listed(gw, "LD-NW") and entry in listed(gw, "LD-NE")
    for route in ("/audit/disclosures/{}", "/audit/proofs/inclusion/{}"):
        theirs, nobody = gw.http.get(route.format(entry), auth=nw), gw.http.get(route.format(UNKNOWN_ID), auth=nw)
        assert (theirs.status_code, theirs.content) == (404, nobody.content), route
