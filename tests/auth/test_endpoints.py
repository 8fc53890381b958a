"""Each authorization server endpoint called alone: a plain function of the server's collaborators,
the form and the headers, with no app and no database (the client registry is a dict here)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.datastructures import Headers

from gateway.auth.clients import ClientRecord
from gateway.auth.endpoints import discovery
from gateway.auth.endpoints.introspection import introspect
from gateway.auth.endpoints.revocation import revoke
from gateway.auth.endpoints.server import AuthorizationServer
from gateway.auth.endpoints.token import requested_purpose, requested_scopes, token
from gateway.auth.errors import InvalidRequest, InvalidScope, SlowDown
from gateway.auth.jwks import RegisteredKeys
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import InMemoryRevocationList
from gateway.auth.rfc7523 import InMemoryReplayCache
from gateway.auth.vocab import PURPOSE_SCOPES, AgencyType, Purpose, Scope
from gateway.config import Settings
from tests.auth.conftest import assertion_claims, sign_assertion, token_form
from tests.fixtures import ROOT

NO_HEADERS = Headers({})


def _record(client_id: str, key: Any, *, purposes: tuple[Purpose, ...] = (Purpose.CHARGING,)) -> ClientRecord:
    return ClientRecord(
        client_id=client_id,
        agency_code="POLICE-1",
        agency_type=AgencyType.POLICE,
        purposes=purposes,
        jwks=key.jwks,
        jwks_url=None,
        revoked=False,
    )


@pytest.fixture
def settings(tmp_path) -> Settings:
    """No database: these endpoints reach the registry only through ``find_client``."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'unused.db'}",
        data_dir=tmp_path / "var",
        issuer="http://testserver",
        policy_dir=ROOT / "policies",
        schema_dir=ROOT / "schemas",
    )


@pytest.fixture
def clients(rsa_key, other_rsa_key) -> dict[str, ClientRecord]:
    return {"alpha": _record("alpha", rsa_key), "beta": _record("beta", other_rsa_key)}


@pytest.fixture
def denials() -> list[tuple[str | None, str, str]]:
    return []


def _server(settings, signing_key, clients, denials, **overrides: Any) -> AuthorizationServer:
    parts: dict[str, Any] = {
        "settings": settings,
        "signing_key": signing_key,
        "on_token_denied": lambda *denial: denials.append(denial),
        "find_client": clients.get,
        "is_client_active": lambda client_id: client_id in clients,
        "client_keys": RegisteredKeys(),
        "replay_cache": InMemoryReplayCache(),
        "revocations": InMemoryRevocationList(),
        "now": time.time,
    }
    return AuthorizationServer(**{**parts, **overrides})


@pytest.fixture
def server(settings, signing_key, clients, denials) -> AuthorizationServer:
    return _server(settings, signing_key, clients, denials)


def _form(client_id: str, key: Any, **extra: str) -> dict[str, str]:
    return token_form(sign_assertion(key, assertion_claims(client_id), alg="PS256"), **extra)


def _body(response: Any) -> dict[str, Any]:
    return json.loads(bytes(response.body))


def _issue(server: AuthorizationServer, client_id: str, key: Any) -> str:
    response = token(server, _form(client_id, key), NO_HEADERS)
    assert response.status_code == 200, _body(response)
    return _body(response)["access_token"]


def test_token_issues_a_bearer_token_with_every_scope_of_the_purpose(server, rsa_key, denials):
    response = token(server, _form("alpha", rsa_key), NO_HEADERS)
    body = _body(response)
    assert (response.status_code, body["token_type"], body["purpose_of_use"]) == (200, "Bearer", "charging")
    assert set(body["scope"].split()) == {s.value for s in PURPOSE_SCOPES[Purpose.CHARGING]}
    assert response.headers["cache-control"] == "no-store"
    assert denials == []


def test_token_refusal_is_logged_before_it_is_answered(server, rsa_key, denials):
    response = token(server, _form("alpha", rsa_key, grant_type="password"), NO_HEADERS)
    assert (response.status_code, _body(response)["error"]) == (400, "unsupported_grant_type")
    assert denials == [("alpha", "unsupported_grant_type", "unsupported grant_type")]


def test_a_refusal_that_cannot_be_logged_is_not_answered(settings, signing_key, clients, rsa_key):
    def failing_log(*_: Any) -> None:
        raise RuntimeError("log unavailable")

    server = _server(settings, signing_key, clients, [], on_token_denied=failing_log)
    with pytest.raises(RuntimeError, match="log unavailable"):
        token(server, _form("alpha", rsa_key, grant_type="password"), NO_HEADERS)


def test_token_rate_limit_answers_slow_down_with_retry_after(settings, signing_key, clients, denials, rsa_key):
    limiter = RateLimiter(1 / 60, 1, clock=lambda: 0.0)
    server = _server(settings, signing_key, clients, denials, rate_limiter=limiter)
    assert token(server, _form("alpha", rsa_key), NO_HEADERS).status_code == 200
    response = token(server, _form("alpha", rsa_key), NO_HEADERS)
    assert (response.status_code, _body(response)["error"]) == (429, "slow_down")
    assert int(response.headers["retry-after"]) >= 1
    assert [d[:2] for d in denials] == [("alpha", "slow_down")]


def test_requested_purpose_must_be_known_and_registered(clients):
    record = clients["alpha"]
    assert requested_purpose({"purpose_of_use": "charging"}, record) is Purpose.CHARGING
    with pytest.raises(InvalidRequest):
        requested_purpose({}, record)
    with pytest.raises(InvalidScope, match="unknown purpose"):
        requested_purpose({"purpose_of_use": "curiosity"}, record)
    with pytest.raises(InvalidScope, match="not registered for the client"):
        requested_purpose({"purpose_of_use": "sentencing"}, record)


def test_requested_scopes_stay_within_the_purpose():
    allowed = PURPOSE_SCOPES[Purpose.CHARGING]
    assert requested_scopes({}, Purpose.CHARGING, "alpha") == allowed
    one = next(iter(allowed))
    assert requested_scopes({"scope": one.value}, Purpose.CHARGING, "alpha") == frozenset({one})
    outside = next(s for s in Scope if s not in allowed)
    with pytest.raises(InvalidScope):
        requested_scopes({"scope": outside.value}, Purpose.CHARGING, "alpha")


def test_introspect_describes_the_callers_own_token_only(server, rsa_key, other_rsa_key):
    access_token = _issue(server, "alpha", rsa_key)
    own = introspect(server, _form("alpha", rsa_key, token=access_token), NO_HEADERS)
    assert (_body(own)["active"], _body(own)["client_id"]) == (True, "alpha")
    other = introspect(server, _form("beta", other_rsa_key, token=access_token), NO_HEADERS)
    assert _body(other) == {"active": False}


def test_introspect_refusal_is_logged_with_its_endpoint(server, rsa_key, denials):
    response = introspect(server, _form("alpha", rsa_key), NO_HEADERS)
    assert (response.status_code, _body(response)["error"]) == (400, "invalid_request")
    assert denials == [("alpha", "invalid_request", "introspection: token is missing")]


def test_revoke_revokes_the_callers_own_token(server, rsa_key):
    access_token = _issue(server, "alpha", rsa_key)
    assert revoke(server, _form("alpha", rsa_key, token=access_token), NO_HEADERS).status_code == 200
    after = introspect(server, _form("alpha", rsa_key, token=access_token), NO_HEADERS)
    assert _body(after) == {"active": False}


def test_revoking_another_clients_token_is_refused_and_logged(server, rsa_key, other_rsa_key, denials):
    access_token = _issue(server, "alpha", rsa_key)
    response = revoke(server, _form("beta", other_rsa_key, token=access_token), NO_HEADERS)
    assert (response.status_code, _body(response)["error"]) == (400, "unauthorized_client")
    assert denials == [("beta", "unauthorized_client", "revocation: tried to revoke another client's token")]
    still = introspect(server, _form("alpha", rsa_key, token=access_token), NO_HEADERS)
    assert _body(still)["active"] is True


def test_slow_down_logged_only_when_the_limiter_says_so(server, denials):
    quiet = server.refuse(SlowDown(5, reason="rate", client_id="alpha", log=False))
    assert (quiet.status_code, quiet.headers["retry-after"], denials) == (429, "5", [])


def test_discovery_documents_name_the_endpoints(settings, signing_key):
    metadata = discovery.authorization_server_metadata(settings)
    smart = discovery.smart_configuration(settings)
    assert metadata["token_endpoint"] == smart["token_endpoint"] == settings.token_url
    assert metadata["introspection_endpoint"].endswith("/oauth2/introspect")
    assert smart["revocation_endpoint"].endswith("/oauth2/revoke")
    published = discovery.jwks(signing_key)
    assert _body(published) == signing_key.public_jwks()
    assert published.headers["cache-control"] == "public, max-age=60"
