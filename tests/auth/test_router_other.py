"""Introspection (RFC 7662), revocation (RFC 7009), and the discovery documents."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.auth.errors import InvalidToken
from gateway.auth.jwks import RegisteredKeys, RemoteJwks
from gateway.auth.rfc9068 import validate_access_token
from gateway.auth.router import build_router
from tests.auth.conftest import AppClient, assertion_claims, sign_assertion, token_form


def _token(server, client, purpose="charging"):
    response = server.token(
        token_form(sign_assertion(client.key, assertion_claims(client.client_id), alg="RS512"), purpose)
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _auth(client):
    return {
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": sign_assertion(client.key, assertion_claims(client.client_id), alg="RS512"),
    }


# --- introspection ----------------------------------------------------------------------------


def test_a_client_introspects_its_own_token(auth_server, register, rsa_key):
    client = register(rsa_key, agency_type="yot", purposes=("case-management",))
    token = _token(auth_server, client, "case-management")

    response = auth_server.http.post("/oauth2/introspect", data={"token": token, **_auth(client)})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == body["sub"] == client.client_id
    assert body["agency"] == client.agency_code
    assert body["agency_type"] == "yot"
    assert body["purpose_of_use"] == "case-management"
    assert body["aud"] == "http://testserver/fhir"
    assert body["iss"] == "http://testserver"
    assert body["token_type"] == "Bearer"


def test_another_clients_token_is_inactive(auth_server, register, rsa_key, other_rsa_key):
    owner = register(rsa_key)
    snoop = register(other_rsa_key, agency_type="probation", purposes=("sentencing",))
    token = _token(auth_server, owner)

    response = auth_server.http.post("/oauth2/introspect", data={"token": token, **_auth(snoop)})

    assert response.json() == {"active": False}
    assert auth_server.denials == []


@pytest.mark.parametrize("token", ["garbage", "a.b.c"])
def test_an_invalid_token_is_inactive(token, auth_server, register, rsa_key):
    client = register(rsa_key)
    response = auth_server.http.post("/oauth2/introspect", data={"token": token, **_auth(client)})
    assert response.json() == {"active": False}


def test_introspection_needs_client_authentication(auth_server, register, rsa_key):
    client = register(rsa_key)
    token = _token(auth_server, client)

    response = auth_server.http.post("/oauth2/introspect", data={"token": token})

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert auth_server.denials[0][1] == "invalid_client"
    assert auth_server.denials[0][2].startswith("introspection: ")


def test_introspection_needs_a_token(auth_server, register, rsa_key):
    client = register(rsa_key)
    response = auth_server.http.post("/oauth2/introspect", data=_auth(client))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert auth_server.denials[0][:2] == (client.client_id, "invalid_request")


# --- revocation -------------------------------------------------------------------------------


def test_a_client_revokes_its_own_token(auth_server, register, rsa_key, session_factory):
    client = register(rsa_key)
    token = _token(auth_server, client)

    response = auth_server.http.post("/oauth2/revoke", data={"token": token, **_auth(client)})

    assert response.status_code == 200
    assert auth_server.http.post("/oauth2/introspect", data={"token": token, **_auth(client)}).json() == {
        "active": False
    }
    with pytest.raises(InvalidToken) as caught:
        validate_access_token(
            token,
            signing_key=auth_server.signing_key,
            issuer="http://testserver",
            audience="http://testserver/fhir",
            is_client_active=lambda _: True,
            is_token_revoked=auth_server.revocations.is_revoked,
        )
    assert "revoked" in caught.value.reason


def test_revoking_another_clients_token_is_refused(auth_server, register, rsa_key, other_rsa_key):
    owner = register(rsa_key)
    other = register(other_rsa_key, agency_type="court", purposes=("sentencing",))
    token = _token(auth_server, owner)

    response = auth_server.http.post("/oauth2/revoke", data={"token": token, **_auth(other)})

    assert (response.status_code, response.json()["error"]) == (400, "unauthorized_client")
    assert auth_server.denials[0][:2] == (other.client_id, "unauthorized_client")
    assert auth_server.denials[0][2].startswith("revocation: ")
    assert not auth_server.revocations.is_revoked("anything")


def test_revoking_an_invalid_token_is_not_an_error(auth_server, register, rsa_key):
    """RFC 7009 section 2.2."""
    client = register(rsa_key)
    response = auth_server.http.post("/oauth2/revoke", data={"token": "not-a-token", **_auth(client)})
    assert response.status_code == 200
    assert auth_server.denials == []


def test_revocation_needs_client_authentication(auth_server):
    response = auth_server.http.post("/oauth2/revoke", data={"token": "x"})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert auth_server.denials[0][:2] == (None, "invalid_client")


# --- a client whose keys live at a URL ------------------------------------------------------------


def test_a_client_with_a_jwks_url_authenticates(settings, session_factory, signing_key, register, ec_key):
    fetched: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json=ec_key.jwks)

    remote = RemoteJwks(http=httpx.Client(transport=httpx.MockTransport(handler)))
    app = FastAPI()
    app.include_router(
        build_router(
            settings=settings,
            session_factory=session_factory,
            signing_key=signing_key,
            on_token_denied=lambda *a: None,
            client_keys=RegisteredKeys(remote),
        )
    )
    client = register(ec_key, jwks_url="https://agency.example/jwks.json")
    http = AppClient(app)
    for _ in range(2):
        assertion = sign_assertion(ec_key, assertion_claims(client.client_id), alg="ES256")
        assert http.post("/oauth2/token", data=token_form(assertion)).status_code == 200
    assert fetched == ["https://agency.example/jwks.json"]  # the second request used the cache


# --- discovery --------------------------------------------------------------------------------


def test_jwks_publishes_the_public_signing_key(auth_server):
    body = auth_server.http.get("/.well-known/jwks.json").json()
    assert body == auth_server.signing_key.public_jwks()
    (key,) = body["keys"]
    assert key["kid"] == auth_server.signing_key.kid
    assert key["alg"] == "RS256"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)


def test_authorization_server_metadata(auth_server):
    body = auth_server.http.get("/.well-known/oauth-authorization-server").json()
    assert body["issuer"] == "http://testserver"
    assert body["token_endpoint"] == "http://testserver/oauth2/token"
    assert body["jwks_uri"] == "http://testserver/.well-known/jwks.json"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert "RS512" in body["token_endpoint_auth_signing_alg_values_supported"]
    assert not {"none", "HS256"} & set(body["token_endpoint_auth_signing_alg_values_supported"])
    assert body["introspection_endpoint"] == "http://testserver/oauth2/introspect"
    assert body["revocation_endpoint"] == "http://testserver/oauth2/revoke"


def test_smart_configuration(auth_server):
    body = auth_server.http.get("/.well-known/smart-configuration").json()
    assert body["token_endpoint"] == "http://testserver/oauth2/token"
    assert body["grant_types_supported"] == ["client_credentials"]
    assert body["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert {"RS384", "ES384"} <= set(body["token_endpoint_auth_signing_alg_values_supported"])
    assert "system/Bundle.read" in body["scopes_supported"]
    assert body["capabilities"] == ["client-confidential-asymmetric"]
