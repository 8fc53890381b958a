"""POST /oauth2/token end to end (RFC 6749 section 4.4 with RFC 7523 client authentication).

Every refusal must carry the exact RFC 6749 error code and must have reached ``on_token_denied``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from authlib.oauth2.rfc7523 import private_key_jwt_sign

from gateway.auth import registry
from gateway.auth.dependencies import client_activity
from gateway.auth.rfc7523 import CLIENT_ASSERTION_TYPE
from gateway.auth.rfc9068 import AccessContext, validate_access_token
from gateway.auth.vocab import AgencyType, Purpose
from tests.auth.conftest import (
    DROP,
    TOKEN_URL,
    AppClient,
    AuthServer,
    KeyPair,
    Registered,
    assertion_claims,
    hmac_jwt,
    sign_assertion,
    token_form,
    unsigned_jwt,
)


def _validate(server: AuthServer, session_factory: Any, token: str) -> AccessContext:
    return validate_access_token(
        token,
        signing_key=server.signing_key,
        issuer=server.settings.issuer,
        audience=server.settings.resource_audience,
        is_client_active=client_activity(session_factory),
        is_token_revoked=server.revocations.is_revoked,
    )


def _assert_token_response(response: Any, purpose: str) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["purpose_of_use"] == purpose
    assert 0 < body["expires_in"] <= 300
    return body


@pytest.mark.parametrize("alg", ["RS512", "PS256", "RS384"])
def test_rsa_assertion_gets_a_token_that_validates(alg, auth_server, register, rsa_key, session_factory):
    client = register(rsa_key, agency_type="court", purposes=("case-management", "sentencing"))
    assertion = sign_assertion(rsa_key, assertion_claims(client.client_id), alg=alg)

    before = int(time.time())
    body = _assert_token_response(auth_server.token(token_form(assertion, "sentencing")), "sentencing")
    after = int(time.time())

    context = _validate(auth_server, session_factory, body["access_token"])
    assert context.client_id == client.client_id
    assert context.agency_code == client.agency_code
    assert context.agency_type is AgencyType.COURT
    assert context.purpose is Purpose.SENTENCING
    # Issued (in whole seconds) while the request ran, for expires_in: however long the request took.
    assert before + body["expires_in"] <= context.expires_at.timestamp() <= after + body["expires_in"]
    assert context.allows("system/Bundle.read")
    assert auth_server.denials == []


@pytest.mark.parametrize(("key_name", "alg"), [("ec_key", "ES256"), ("ed_key", "EdDSA"), ("ed_key", "Ed25519")])
def test_ec_and_eddsa_assertions_get_tokens(key_name, alg, request, auth_server, register, session_factory):
    key: KeyPair = request.getfixturevalue(key_name)
    client = register(key, agency_type="health", purposes=("health-referral",))
    assertion = sign_assertion(key, assertion_claims(client.client_id), alg=alg)

    body = _assert_token_response(auth_server.token(token_form(assertion, "health-referral")), "health-referral")

    context = _validate(auth_server, session_factory, body["access_token"])
    assert (context.client_id, context.agency_type, context.purpose) == (
        client.client_id,
        AgencyType.HEALTH,
        Purpose.HEALTH_REFERRAL,
    )


def test_an_assertion_made_by_authlib_is_accepted(auth_server, register, rsa_key, session_factory):
    """Interoperability: Authlib's client-side signer, as NHS England's pattern uses it (RS512, kid)."""
    client = register(rsa_key)
    assertion = private_key_jwt_sign(
        rsa_key.private, client.client_id, TOKEN_URL, alg="RS512", header={"kid": rsa_key.kid}, expires_in=300
    )
    body = _assert_token_response(auth_server.token(token_form(assertion)), "charging")
    assert _validate(auth_server, session_factory, body["access_token"]).purpose is Purpose.CHARGING


def test_a_generated_client_key_works_end_to_end(auth_server, register, tmp_path, session_factory):
    from joserfc.jwk import RSAKey

    pem_path = tmp_path / "agency.pem"
    jwk = registry.generate_client_key(pem_path)
    private = RSAKey.import_key(pem_path.read_bytes())
    key = KeyPair(private=private, public_pem=b"", kid=jwk["kid"])
    client = register(key, jwks={"keys": [jwk]})
    body = _assert_token_response(
        auth_server.token(token_form(sign_assertion(key, assertion_claims(client.client_id), alg="RS512"))),
        "charging",
    )
    assert _validate(auth_server, session_factory, body["access_token"]).client_id == client.client_id


def test_aud_may_be_a_list_containing_the_token_url(auth_server, register, rsa_key):
    client = register(rsa_key)
    claims = assertion_claims(client.client_id, aud=["https://elsewhere.example", TOKEN_URL])
    _assert_token_response(auth_server.token(token_form(sign_assertion(rsa_key, claims, alg="RS512"))), "charging")


def test_scope_can_be_narrowed(auth_server, register, rsa_key, session_factory):
    client = register(rsa_key)
    form = token_form(
        sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"), scope="system/Bundle.read"
    )
    body = _assert_token_response(auth_server.token(form), "charging")
    assert body["scope"] == "system/Bundle.read"
    context = _validate(auth_server, session_factory, body["access_token"])
    assert context.scopes == frozenset({"system/Bundle.read"})


def test_without_scope_the_token_gets_every_scope_of_its_purpose(auth_server, register, ed_key):
    client = register(ed_key, agency_type="ld-service", purposes=("ld-service",))
    form = token_form(sign_assertion(ed_key, assertion_claims(client.client_id), alg="EdDSA"), "ld-service")
    body = _assert_token_response(auth_server.token(form), "ld-service")
    assert body["scope"].split() == [
        "assessments.write",
        "audit.read",
        "audit.write",
        "system/Task.read",
        "system/Task.write",
    ]


# --- the negative matrix ----------------------------------------------------------------------


@dataclass
class Case:
    """A refused token request. ``build`` makes the form; ``named`` says whether the denial must
    name the client (False: it must name nobody)."""

    build: Callable[[Registered, dict[str, Any]], dict[str, str]]
    error: str
    status: int
    named: bool = True


SAML_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"


def _signed(client: Registered, *, alg: str = "RS512", header: dict[str, Any] | None = None, **claims: Any) -> str:
    return sign_assertion(client.key, assertion_claims(client.client_id, **claims), alg=alg, **(header or {}))


def _tampered(client: Registered, _: dict[str, Any]) -> dict[str, str]:
    header, _payload, signature = _signed(client).split(".")
    forged = unsigned_jwt({}, assertion_claims(client.client_id, sub=client.client_id)).split(".")[1]
    return token_form(f"{header}.{forged}.{signature}")


CASES: dict[str, Case] = {
    "missing kid": Case(lambda c, _: token_form(_signed(c, header={"kid": DROP})), "invalid_client", 401),
    "unknown kid": Case(lambda c, _: token_form(_signed(c, header={"kid": "no-such-key"})), "invalid_client", 401),
    "alg none": Case(
        lambda c, _: token_form(unsigned_jwt({"alg": "none", "kid": c.key.kid}, assertion_claims(c.client_id))),
        "invalid_client",
        401,
    ),
    "HS256 keyed with the public key PEM": Case(
        lambda c, _: token_form(
            hmac_jwt({"alg": "HS256", "typ": "JWT", "kid": c.key.kid}, assertion_claims(c.client_id), c.key.public_pem)
        ),
        "invalid_client",
        401,
    ),
    "alg does not fit the key": Case(
        lambda c, x: token_form(sign_assertion(x["ec_key"], assertion_claims(c.client_id), alg="ES256", kid=c.key.kid)),
        "invalid_client",
        401,
    ),
    "signed by another key under the registered kid": Case(
        lambda c, x: token_form(
            sign_assertion(x["other_rsa_key"], assertion_claims(c.client_id), alg="RS512", kid=c.key.kid)
        ),
        "invalid_client",
        401,
    ),
    "payload tampered after signing": Case(_tampered, "invalid_client", 401),
    "iss differs from sub": Case(lambda c, _: token_form(_signed(c, iss="someone-else")), "invalid_client", 401),
    "iss and sub name another registered client": Case(
        lambda c, x: token_form(_signed(c, iss=x["other"].client_id, sub=x["other"].client_id)),
        "invalid_client",
        401,
    ),
    "client_id parameter differs from iss": Case(
        lambda c, x: token_form(_signed(c), client_id=x["other"].client_id),
        "invalid_client",
        401,
    ),
    "wrong aud": Case(
        lambda c, _: token_form(_signed(c, aud="https://other.example/oauth2/token")), "invalid_client", 401
    ),
    "aud is the issuer, not the token URL": Case(
        lambda c, _: token_form(_signed(c, aud="http://testserver")), "invalid_client", 401
    ),
    "exp missing": Case(lambda c, _: token_form(_signed(c, exp=DROP)), "invalid_client", 401),
    "exp a string": Case(lambda c, _: token_form(_signed(c, exp=str(int(time.time()) + 60))), "invalid_client", 401),
    "exp in the past": Case(lambda c, _: token_form(_signed(c, exp=int(time.time()) - 5)), "invalid_client", 401),
    "exp too far ahead": Case(
        lambda c, _: token_form(_signed(c, exp=int(time.time()) + 301 + 5)), "invalid_client", 401
    ),
    "iat in the future": Case(lambda c, _: token_form(_signed(c, iat=int(time.time()) + 120)), "invalid_client", 401),
    "jti missing": Case(lambda c, _: token_form(_signed(c, jti=DROP)), "invalid_client", 401),
    "jti not a string": Case(lambda c, _: token_form(_signed(c, jti=12345)), "invalid_client", 401),
    "typ of an access token": Case(
        lambda c, _: token_form(_signed(c, header={"typ": "at+jwt"})), "invalid_client", 401
    ),
    "unknown client": Case(
        lambda c, _: token_form(_signed(c, iss="not-registered", sub="not-registered")),
        "invalid_client",
        401,
        named=False,
    ),
    "wrong assertion type": Case(
        lambda c, _: token_form(_signed(c), client_assertion_type=SAML_ASSERTION_TYPE),
        "invalid_client",
        401,
        named=False,
    ),
    "no client authentication": Case(
        lambda c, _: {"grant_type": "client_credentials", "purpose_of_use": "charging"},
        "invalid_client",
        401,
        named=False,
    ),
    "assertion is not a JWT": Case(lambda c, _: token_form("not.a-jwt"), "invalid_client", 401, named=False),
    "unregistered purpose": Case(lambda c, _: token_form(_signed(c), "case-management"), "invalid_scope", 400),
    "unknown purpose": Case(lambda c, _: token_form(_signed(c), "curiosity"), "invalid_scope", 400),
    "purpose missing": Case(lambda c, _: token_form(_signed(c), None), "invalid_request", 400),
    "scope beyond the purpose": Case(
        lambda c, _: token_form(_signed(c), scope="assessments.write"), "invalid_scope", 400
    ),
    "wrong grant_type": Case(
        lambda c, _: token_form(_signed(c), grant_type="authorization_code"), "unsupported_grant_type", 400
    ),
    "grant_type missing": Case(
        lambda c, _: {k: v for k, v in token_form(_signed(c)).items() if k != "grant_type"},
        "invalid_request",
        400,
    ),
    "client_secret as well as an assertion": Case(
        lambda c, _: token_form(_signed(c), client_secret="s3cret"), "invalid_request", 400, named=False
    ),
}


def test_a_replayed_assertion_is_refused(auth_server, register, rsa_key):
    client = register(rsa_key)
    assertion = sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512")
    assert auth_server.token(token_form(assertion)).status_code == 200

    response = auth_server.token(token_form(assertion))

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert auth_server.denials == [(client.client_id, "invalid_client", auth_server.denials[0][2])]
    assert "replayed" in auth_server.denials[0][2]


def test_a_revoked_client_gets_no_token_and_its_live_tokens_stop_working(
    auth_server, register, rsa_key, session_factory
):
    client = register(rsa_key)
    body = auth_server.token(token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512")))
    live = body.json()["access_token"]
    with session_factory.begin() as session:
        registry.revoke_client(session, client.client_id)

    response = auth_server.token(token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512")))

    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert auth_server.denials[0][:2] == (client.client_id, "invalid_client")
    assert "revoked" in auth_server.denials[0][2]
    from gateway.auth.errors import InvalidToken

    with pytest.raises(InvalidToken) as caught:
        _validate(auth_server, session_factory, live)
    assert "revoked" in caught.value.reason


def test_authentication_failures_share_one_description(auth_server, register, rsa_key, other_rsa_key):
    """Unknown client, unknown kid, bad signature: the caller cannot tell them apart."""
    client = register(rsa_key)
    forms = [
        token_form(sign_assertion(rsa_key, assertion_claims("nobody", iss="nobody", sub="nobody"), alg="RS512")),
        token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512", kid="nope")),
        token_form(sign_assertion(other_rsa_key, assertion_claims(client.client_id), alg="RS512", kid=rsa_key.kid)),
    ]
    bodies = [auth_server.token(form).json() for form in forms]
    assert len({b["error_description"] for b in bodies}) == 1
    assert len({reason for _, _, reason in auth_server.denials}) == 3


def test_structural_problems_are_explained(auth_server, register, rsa_key):
    client = register(rsa_key)
    response = auth_server.token(token_form(_signed(client, exp=int(time.time()) + 3600)))
    assert "300 seconds" in response.json()["error_description"]


def test_a_repeated_parameter_is_invalid_request(auth_server, register, rsa_key):
    client = register(rsa_key)
    assertion = _signed(client)
    body = (
        f"grant_type=client_credentials&client_assertion_type={CLIENT_ASSERTION_TYPE}"
        f"&client_assertion={assertion}&purpose_of_use=charging&purpose_of_use=sentencing"
    )
    response = auth_server.http.post(
        "/oauth2/token", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert auth_server.denials[0][:2] == (None, "invalid_request")


def test_a_json_body_is_invalid_request(auth_server):
    response = auth_server.http.post("/oauth2/token", json={"grant_type": "client_credentials"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert auth_server.denials[0][:2] == (None, "invalid_request")


def test_exp_bound_uses_the_injected_clock(settings, session_factory, signing_key, register, rsa_key):
    """The router's clock drives the assertion checks: an assertion valid now is stale an hour later."""
    from fastapi import FastAPI

    from gateway.auth.router import build_router

    denials: list[Any] = []
    later = time.time() + 3600
    app = FastAPI()
    app.include_router(
        build_router(
            settings=settings,
            session_factory=session_factory,
            signing_key=signing_key,
            on_token_denied=lambda *a: denials.append(a),
            now=lambda: later,
        )
    )
    client = register(rsa_key)
    response = AppClient(app).post("/oauth2/token", data=token_form(_signed(client)))
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert "expired" in denials[0][2]
