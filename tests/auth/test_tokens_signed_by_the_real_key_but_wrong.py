"""Tokens signed by the gateway's own key but wrong (audience, issuer, expiry, scope, an L&D service's
token) get nothing and are logged: a behaviour the first security review relied on, pinned (it passed
when written)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from gateway.auth.clients import ClientRecord
from gateway.auth.rfc9068 import issue_access_token
from gateway.auth.vocab import AgencyType, Purpose, Scope
from gateway.db.models import DisclosureLogEntry

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
NAME = "Hewitt"


def _count(gateway) -> int:
    with gateway.sessions() as session:
        return session.execute(select(func.count()).select_from(DisclosureLogEntry)).scalar_one()


def _token(gateway, **overrides) -> str:
    signing_key = gateway.app.state.gateway.signing_key
    client = ClientRecord(
        gateway.clients["POL-NE"], "POL-NE", AgencyType.POLICE, (Purpose.CHARGING,), None, None, False
    )
    args = {
        "signing_key": signing_key,
        "issuer": gateway.settings.issuer,
        "audience": gateway.settings.resource_audience,
        "client": client,
        "purpose": Purpose.CHARGING,
        "scopes": [Scope.BUNDLE_READ],
    }
    args.update(overrides)
    return issue_access_token(**args)[0]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong-audience", 401),
        ("wrong-issuer", 401),
        ("expired", 401),
        ("no-read-scope", 403),
        ("ld-service-token", 403),
    ],
)
def test_tokens_signed_by_the_real_key_but_wrong_get_nothing_and_are_logged(gateway, case, status):
    overrides = {
        "wrong-audience": {"audience": "http://testserver/other"},
        "wrong-issuer": {"issuer": "http://elsewhere"},
        "expired": {"now": lambda: time.time() - 600},
        "no-read-scope": {"scopes": [Scope.TASK_READ]},
        "ld-service-token": {},
    }[case]
    if case == "ld-service-token":
        kwargs: dict = {"auth": gateway.auth("LD-NE", "ld-service")}
    else:
        kwargs = {"headers": {"Authorization": f"Bearer {_token(gateway, **overrides)}"}}
    before = _count(gateway)
    for url in (
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}",
        f"/fhir/Bundle/{gateway.published.assessment_id}",
    ):
        response = gateway.http.get(url, **kwargs)
        assert response.status_code == status
        assert NAME.encode() not in response.content and NHS.encode() not in response.content
        assert response.headers["x-disclosure-id"]
    assert _count(gateway) == before + 2
