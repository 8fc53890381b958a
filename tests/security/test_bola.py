"""Broken object-level authorisation sweep: every agency by every person by every read route.

Only a person with a case link from the caller's agency exists for that caller. For anyone else every
route answers exactly what it answers for a person nobody knows (404, same bytes: no oracle), and
every answer has its log entry. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from gateway.db.models import DisclosureLogEntry
from tests.security.conftest import READERS, build_gateway

UNKNOWN_NHS = "9434765919"  # valid check digit, published for nobody
UNKNOWN_PNC = "2019/0000001P"
UNKNOWN_BUNDLE = "00000000-0000-4000-8000-000000000000"


def routes(person):
    """(route name, path, query) for each way of asking for this person."""
    return [
        ("search-nhs", "/fhir/Bundle", {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"}),
        ("search-pnc", "/fhir/Bundle", {"patient.identifier": f"{PNC_ID_SYSTEM}|{person.pnc_id.lower()}"}),
        ("read", f"/fhir/Bundle/{person.assessment_id}", None),
    ]


def unknown_answers(gw, headers):
    answers = {}
    for name, path, query in (
        ("search-nhs", "/fhir/Bundle", {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{UNKNOWN_NHS}"}),
        ("search-pnc", "/fhir/Bundle", {"patient.identifier": f"{PNC_ID_SYSTEM}|{UNKNOWN_PNC}"}),
        ("read", f"/fhir/Bundle/{UNKNOWN_BUNDLE}", None),
    ):
        response = gw.http.get(path, params=query, headers=headers)
        assert response.status_code == 404, (name, response.text)
        answers[name] = response.content
    return answers


@pytest.fixture
def bola_gateway(database_url, tmp_path, security_key, keys_template):
    gw = build_gateway(database_url, tmp_path, security_key, keys_template)
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()


def test_only_people_with_a_case_link_are_visible(bola_gateway):
    gw = bola_gateway
    seen_ids = []
    visible = invisible = released = 0
    for code, _type, purposes in READERS:
        for purpose in purposes:
            headers = gw.bearer(code, purpose)
            nobody = unknown_answers(gw, headers)
            for person in gw.people.values():
                for route, path, query in routes(person):
                    response = gw.http.get(path, params=query, headers=headers)
                    ids = [i for i in response.headers.get("X-Disclosure-Id", "").split(",") if i]
                    assert ids, f"{code}/{purpose} {route} {person.name}: an answer without its log entry"
                    seen_ids += ids
                    where = f"{code}/{purpose} {route} {person.name} → {response.status_code}"
                    if code in person.linked:
                        visible += 1
                        assert response.status_code in (200, 403), where
                        if response.status_code == 200:
                            released += 1
                            body = response.json()
                            documents = (
                                [e["resource"] for e in body["entry"]] if body["type"] == "searchset" else [body]
                            )
                            assert {d["id"] for d in documents} == {person.assessment_id}, where
                    else:
                        invisible += 1
                        assert response.status_code == 404, where
                        assert response.content == nobody[route], f"{where}: differs from a person nobody knows"
                        assert person.nhs_number not in response.text and person.assessment_id not in response.text
    assert visible and invisible and released, (visible, invisible, released)
    with gw.sessions() as session:
        logged = set(session.execute(select(DisclosureLogEntry.disclosure_id)).scalars())
        entries = {
            r.disclosure_id: json.loads(r.entry)
            for r in session.execute(
                select(DisclosureLogEntry).where(DisclosureLogEntry.outcome == "released")
            ).scalars()
        }
    assert set(seen_ids) <= logged
    # Every release in the log went to an agency linked to the assessment's person.
    linked_by_assessment = {p.assessment_id: set(p.linked) for p in gw.people.values()}
    assert entries
    for entry in entries.values():
        assert entry["agency_code"] in linked_by_assessment[entry["assessment_id"]], entry
