"""The whole-gateway fixture is a working gateway: police pull the adult example and it is logged; a person
unknown and a person not linked to the caller look alike over HTTP. Behaviour the first security review
relied on, pinned (it passed when written)."""

from __future__ import annotations

from gateway.audit import log
from gateway.audit.verify import verify_rows

NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"


def test_police_pull_is_released_and_logged(gateway):
    response = gateway.http.get(SEARCH, auth=gateway.auth("POL-NE", "charging"))
    assert response.status_code == 200, response.text
    (entry,) = [e for e in gateway.log_entries() if e["event"].startswith("disclosure:")]
    assert entry["outcome"] == "released"
    assert entry["disclosure_id"] == response.headers["x-disclosure-id"]
    with gateway.sessions() as session:
        assert verify_rows(log.iter_rows(session), log.read_head(session)).ok


def test_unknown_person_and_unlinked_person_are_indistinguishable_over_http(gateway):
    """Status, body and the *set of header names* match (X-Policy-Revision absent from both)."""
    auth = gateway.auth("MHT-NE", "health-referral")
    unlinked = gateway.http.get(SEARCH, auth=auth)
    unknown = gateway.http.get(SEARCH.replace(NHS, "9000000009"), auth=auth)
    assert unlinked.status_code == unknown.status_code == 404
    assert unlinked.content == unknown.content
    assert set(unlinked.headers) == set(unknown.headers)
    assert "x-policy-revision" not in unlinked.headers
    unlinked_read = gateway.http.get(f"/fhir/Bundle/{gateway.published.assessment_id}", auth=auth)
    unknown_read = gateway.http.get("/fhir/Bundle/00000000-0000-0000-0000-000000000000", auth=auth)
    assert unlinked_read.status_code == unknown_read.status_code == 404
    assert unlinked_read.content == unknown_read.content == unknown.content
    assert set(unlinked_read.headers) == set(unknown_read.headers)
