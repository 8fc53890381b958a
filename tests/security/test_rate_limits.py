"""Rate limits through the whole app, with small limits so a flood is short.

Per client: one client's flood does not slow another. Refusals are well formed (an OperationOutcome
with Retry-After on resource routes; RFC 6749 JSON, ``slow_down``, at the token endpoint), carry no
document, and a flood is not written to the disclosure log one entry per request.
"""

from __future__ import annotations

import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome
from sqlalchemy import func, select

from gateway.db.models import DisclosureLogEntry
from tests.auth.conftest import assertion_claims, sign_assertion, token_form
from tests.security.conftest import build_gateway, sqlite_copy

BURST = 5
FLOOD = 40


@pytest.fixture
def limited_gateway(tmp_path, security_key, keys_template, sqlite_template):
    gw = build_gateway(
        sqlite_copy(sqlite_template, tmp_path),
        tmp_path,
        security_key,
        keys_template,
        resource_rate_per_second=0.001,  # next to no refill during the test: the burst is all there is
        resource_burst=BURST,
        token_rate_per_minute=0.01,
        token_burst=BURST,
    )
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()


def log_size(gw) -> int:
    with gw.sessions() as session:
        return session.execute(select(func.count()).select_from(DisclosureLogEntry)).scalar_one()


def test_resource_routes_are_limited_per_client(limited_gateway):
    gw = limited_gateway
    person = gw.people["adult-police-court"]
    police, court = gw.bearer("POL-NE", "charging"), gw.bearer("MC-NE", "sentencing")
    statuses = [gw.http.get(f"/fhir/Bundle/{person.assessment_id}", headers=police).status_code for _ in range(BURST)]
    assert statuses == [200] * BURST
    before = log_size(gw)
    refused = [gw.http.get(f"/fhir/Bundle/{person.assessment_id}", headers=police) for _ in range(FLOOD)]
    for response in refused:
        assert response.status_code == 429, response.text[:200]
        assert int(response.headers["Retry-After"]) >= 1
        outcome = OperationOutcome.model_validate_json(response.content)
        assert outcome.issue[0].code == "throttled"
        assert person.document["subject"]["names"][0]["family"] not in response.text
    assert log_size(gw) - before <= 2, "a flood must not write a log entry per request"
    assert gw.http.get(f"/fhir/Bundle/{person.assessment_id}", headers=court).status_code == 200


def test_token_endpoint_is_limited_per_client(limited_gateway):
    gw = limited_gateway

    def ask(agency: str):
        assertion = sign_assertion(gw.key, assertion_claims(gw.clients[agency]), alg="RS512")
        purpose = "charging" if agency == "POL-NE" else "sentencing"
        return gw.http.post("/oauth2/token", data=token_form(assertion, purpose))

    granted = [ask("POL-NE").status_code for _ in range(BURST)]
    assert granted == [200] * BURST
    for _ in range(10):
        response = ask("POL-NE")
        assert response.status_code == 429, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert body["error"] == "slow_down" and "access_token" not in body
    assert ask("MC-NE").status_code == 200
