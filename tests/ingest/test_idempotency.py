"""Idempotency-Key on POST /assessments and POST /fhir/Bundle; the publish log entry names the version."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from gateway.assessments import store
from gateway.db.models import AssessmentVersion, DisclosureLogEntry, IdempotencyRecord
from tests.factories import example
from tests.fhir.test_inbound import as_document


def _publish_entries(gateway):
    with gateway.sessions() as session:
        rows = session.execute(
            select(DisclosureLogEntry.entry)
            .where(DisclosureLogEntry.event == "ingest:assessment:published")
            .order_by(DisclosureLogEntry.seq)
        ).scalars()
        return [json.loads(r) for r in rows]


def _versions(gateway, assessment_id):
    with gateway.sessions() as session:
        return session.execute(
            select(func.count()).select_from(AssessmentVersion).where(AssessmentVersion.assessment_id == assessment_id)
        ).scalar_one()


def _new_record():
    doc = example()
    doc["local_reference"] = "LD-NE-2026-IDEM-1"
    return doc


@pytest.fixture
def post(gateway):
    def post(path, body, key=None, agency="LD-NE", purpose="ld-service"):
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Idempotency-Key"] = key.encode("utf-8") if isinstance(key, str) and not key.isascii() else key
        auth = gateway.auth(agency, purpose)
        return gateway.http.post(path, content=json.dumps(body).encode(), headers=headers, auth=auth)

    return post


def test_same_key_same_body_replays_the_response_and_publishes_once(gateway, post):
    first = post("/assessments", _new_record(), key="import-0001")
    assert first.status_code == 201, first.text
    before = _publish_entries(gateway)
    again = post("/assessments", _new_record(), key="import-0001")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert _versions(gateway, first.json()["id"]) == 1
    assert _publish_entries(gateway) == before, "a replay writes nothing"


def test_same_key_different_body_is_refused(gateway, post):
    assert post("/assessments", _new_record(), key="k-1").status_code == 201
    changed = _new_record()
    changed["engagement"] = "Did not attend the follow-up."
    refused = post("/assessments", changed, key="k-1")
    assert refused.status_code == 422
    assert refused.json()["issue"][0]["expression"] == ["Idempotency-Key"]
    assert _versions(gateway, post("/assessments", _new_record(), key="k-1").json()["id"]) == 1


def test_keys_belong_to_the_publishing_agency_and_the_route(gateway, post):
    bundle = as_document({**_new_record(), "case_links": [{"agency_code": "POL-NE", "case_reference": "01NE0000126"}]})
    # The same key on the other route is another request (its body differs): refused, not replayed.
    assert post("/assessments", _new_record(), key="shared").status_code == 201
    assert post("/fhir/Bundle", bundle, key="shared").status_code == 422


def test_fhir_bundle_route_is_idempotent_too(gateway, post):
    record = {**_new_record(), "case_links": [{"agency_code": "POL-NE", "case_reference": "01NE0000126"}]}
    first = post("/fhir/Bundle", as_document(record), key="fhir-1")
    again = post("/fhir/Bundle", as_document(record), key="fhir-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"


def test_a_failed_request_stores_no_key(gateway, post):
    bad = _new_record()
    bad["subject"]["nhs_number"] = "9000000001"
    assert post("/assessments", bad, key="retry-me").status_code == 422
    with gateway.sessions() as session:
        assert session.execute(select(func.count()).select_from(IdempotencyRecord)).scalar_one() == 0
    assert post("/assessments", _new_record(), key="retry-me").status_code == 201


@pytest.mark.parametrize("key", ["", " ", "x" * 256, "caf\u00e9", 'a"b'])
def test_unusable_keys_are_a_400(gateway, post, key):
    response = post("/assessments", _new_record(), key=key)
    assert response.status_code == 400


def test_quoted_and_bare_keys_are_the_same_key(gateway, post):
    first = post("/assessments", _new_record(), key='"abc-1"')
    assert post("/assessments", _new_record(), key="abc-1").json() == first.json()


def test_republish_without_key_identical_is_200_unchanged_and_logged_with_its_version(gateway, post):
    first = post("/assessments", _new_record())
    same = post("/assessments", _new_record())
    assert (first.status_code, same.status_code) == (201, 200)
    assert same.json() == {**first.json(), "created": False, "changed": False}
    amended = _new_record()
    amended["engagement"] = "Attended the alcohol service."
    second = post("/assessments", amended)
    assert second.status_code == 201 and second.json()["version"] == 2
    entries = [e for e in _publish_entries(gateway) if e["assessment_id"] == first.json()["id"]]
    assert [(e["assessment_version"], e["reason"], e["outcome"]) for e in entries] == [
        (1, None, "accepted"),
        (1, "unchanged", "accepted"),
        (2, None, "accepted"),
    ]
    with gateway.sessions() as session:
        subject = store.subject_of_assessment(session, first.json()["id"])
    assert {e["subject_key"] for e in entries} == {gateway.keyring.identifier_hmac("subject", subject)}
    assert all(e["agency_code"] == "LD-NE" and e["client_id"] == gateway.clients["LD-NE"] for e in entries)


def test_publish_log_entries_carry_no_personal_data(gateway, post):
    doc = _new_record()
    post("/assessments", doc)
    raw = json.dumps(_publish_entries(gateway))
    for value in (doc["subject"]["nhs_number"], doc["subject"]["pnc_id"], "Hewitt", doc["local_reference"]):
        assert value not in raw


def test_idempotent_request_is_a_service_the_routes_only_translate(gateway, post):
    """Called without HTTP: no header, no key; a bad key is a 400 refusal; a key answered before replays
    its stored answer; the same key over another body is a 422 refusal."""
    from gateway.ingest.service import Rejected, idempotent_request

    def ask(header, body=b"{}"):
        return idempotent_request(gateway.sessions, gateway.keyring, "LD-NE", header, route="/assessments", body=body)

    assert ask(None) == (None, None)
    with pytest.raises(Rejected) as bad:
        ask("caf\u00e9")
    assert (bad.value.status, bad.value.problems[0].expression) == (400, "Idempotency-Key")
    fresh, replayed = ask("svc-1")
    assert fresh is not None and fresh.key == "svc-1" and replayed is None

    document = _new_record()
    first = post("/assessments", document, key="svc-1")
    _, replayed = ask("svc-1", json.dumps(document).encode())
    assert replayed is not None and replayed.replayed and replayed.body == first.json()
    with pytest.raises(Rejected) as reused:
        ask("svc-1", b'{"another": "body"}')
    assert reused.value.status == 422
