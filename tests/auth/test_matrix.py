"""The negative matrix of issue 3 through the whole application (``create_app``), on SQLite and PostgreSQL.

Each violation once: the response carries the right RFC 6749 / RFC 6750 error, and the refusal is in
the disclosure log (``auth:token:denied`` at the token endpoint, ``disclosure:bundle:denied`` with an
``invalid_token`` reason on a resource route). The positive case runs for every default algorithm.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.assessments.catalogue import load_catalogue
from gateway.auth import registry
from gateway.auth._files import write_secret_file
from gateway.auth.rfc9068 import issue_access_token
from gateway.auth.rotation import OVERLAP, rotate_signing_key
from gateway.auth.signing import TOKEN_SIGNING_FILE, SigningKey
from gateway.config import Settings
from gateway.db.models import DisclosureLogEntry
from gateway.policy import EmbeddedRegoEngine
from tests.asgi import AppClient
from tests.auth.conftest import (
    KeyPair,
    assertion_claims,
    b64url,
    sign_assertion,
    token_form,
)
from tests.auth.test_router_token import CASES
from tests.conftest import ROOT
from tests.dpop import DROP, DpopAuth, DpopKey

RESOURCE = "/fhir/Bundle/00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="session")
def rego() -> EmbeddedRegoEngine:
    return EmbeddedRegoEngine(ROOT / "policies", load_catalogue(ROOT / "schemas" / "field-catalogue.json").ids)


class Clock:
    """The monotonic clock of the apps' per-process caches."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Client:
    client_id: str
    agency_code: str
    key: KeyPair


@dataclass
class App:
    app: FastAPI
    http: AppClient
    settings: Settings
    sessions: sessionmaker[Session]
    clock: Clock
    counter: Iterator[int] = field(default_factory=lambda: iter(range(1, 10_000)))

    def register(self, key: KeyPair, agency_type: str = "police", purposes=("charging",), **options: Any) -> Client:
        code = f"{agency_type.upper()}-{next(self.counter)}"
        with self.sessions.begin() as session:
            registry.add_agency(session, code, code, agency_type)
            if "jwks_url" not in options:
                options["jwks"] = key.jwks
            options.setdefault("dpop_required", False)
            client = registry.add_client(session, code, list(purposes), **options)
            return Client(client.client_id, code, key)

    def token(self, client: Client, purpose: str = "charging", alg: str = "RS512") -> str:
        form = token_form(sign_assertion(client.key, assertion_claims(client.client_id), alg=alg), purpose)
        response = self.http.post("/oauth2/token", data=form)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def denials(self, event: str) -> list[dict[str, Any]]:
        with self.sessions() as session:
            query = select(DisclosureLogEntry.entry).where(DisclosureLogEntry.event == event)
            rows = session.execute(query.order_by(DisclosureLogEntry.seq)).scalars()
            return [json.loads(row) for row in rows]


@pytest.fixture
def gw(
    settings: Settings, session_factory: sessionmaker[Session], rego: EmbeddedRegoEngine, signing_key: SigningKey
) -> Iterator[App]:
    from gateway.keys import load_or_create_keyring

    load_or_create_keyring(settings.keys_dir)
    # The session's token-signing key (generating RSA 3072 per test is slow), mode 0600 as init makes it.
    write_secret_file(settings.keys_dir / TOKEN_SIGNING_FILE, _private_jwk(signing_key))
    clock = Clock()
    app = create_app(settings, policy=rego, monotonic=clock)
    yield App(app, AppClient(app, raise_app_exceptions=False), settings, session_factory, clock)
    app.state.gateway.sessions.kw["bind"].dispose()


def _private_jwk(key: SigningKey) -> bytes:
    return json.dumps({**key.key.as_dict(private=True), "kid": key.kid, "alg": key.alg}).encode()


def _assert_token_refusal(gw: App, response: Any, error: str, status: int, client_id: str | None) -> str:
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"
    (entry,) = gw.denials("auth:token:denied")
    assert entry["outcome"] == "denied"
    assert entry["reason"].startswith(f"{error}:")
    assert entry["client_id"] == client_id
    return str(entry["reason"])


# --- the token endpoint ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(CASES))
def test_token_endpoint_refusals(name, gw, rsa_key, other_rsa_key, ec_key):
    case = CASES[name]
    client = gw.register(rsa_key)
    other = gw.register(other_rsa_key, "probation", ("case-management",))
    form = case.build(client, {"other": other, "ec_key": ec_key, "other_rsa_key": other_rsa_key})  # type: ignore[arg-type]

    response = gw.http.post("/oauth2/token", data=form)

    assert response.status_code == case.status, response.text
    assert response.json()["error"] == case.error
    (entry,) = gw.denials("auth:token:denied")
    assert entry["reason"].startswith(f"{case.error}:")
    if case.named:
        assert entry["client_id"] in (client.client_id, other.client_id)
    else:
        assert entry["client_id"] is None


def test_aud_list_without_the_token_url(gw, rsa_key):
    client = gw.register(rsa_key)
    claims = assertion_claims(client.client_id, aud=["https://a.example/token", "http://testserver"])
    response = gw.http.post("/oauth2/token", data=token_form(sign_assertion(rsa_key, claims, alg="RS512")))
    assert "aud" in _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)


def test_an_algorithm_outside_the_clients_allow_list(gw, rsa_key):
    """RS256 is supported, but not in the default allow-list (issue 3)."""
    client = gw.register(rsa_key)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS256"))
    response = gw.http.post("/oauth2/token", data=form)
    reason = _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)
    assert reason == "invalid_client:alg-not-allowed"


def test_a_client_registered_for_rs256_may_use_it(gw, rsa_key):
    client = gw.register(rsa_key, algorithms=["RS256", "RS512"])
    assert gw.token(client, alg="RS256")


def test_a_replayed_assertion(gw, rsa_key):
    client = gw.register(rsa_key)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"))
    assert gw.http.post("/oauth2/token", data=form).status_code == 200
    response = gw.http.post("/oauth2/token", data=form)
    reason = _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)
    assert "replayed" in reason


def test_a_replay_is_refused_by_another_gateway_process(gw, rsa_key, settings, rego):
    """A second app on the same database (another process, as far as state goes) remembers the jti."""
    client = gw.register(rsa_key)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"))
    assert gw.http.post("/oauth2/token", data=form).status_code == 200
    second = create_app(settings, policy=rego)
    try:
        response = AppClient(second).post("/oauth2/token", data=form)
    finally:
        second.state.gateway.sessions.kw["bind"].dispose()
    assert "replayed" in _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)


def test_a_revoked_client(gw, rsa_key):
    client = gw.register(rsa_key)
    with gw.sessions.begin() as session:
        registry.revoke_client(session, client.client_id)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"))
    response = gw.http.post("/oauth2/token", data=form)
    reason = _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)
    assert "revoked" in reason


def test_an_unregistered_purpose(gw, rsa_key):
    client = gw.register(rsa_key)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"), "sentencing")
    _assert_token_refusal(gw, gw.http.post("/oauth2/token", data=form), "invalid_scope", 400, client.client_id)


class _JwksHandler(BaseHTTPRequestHandler):
    body = b"{}"

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    handler = type("Handler", (_JwksHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", handler
    server.shutdown()
    server.server_close()


def test_rs256_with_a_1024_bit_key(gw, rsa_key, jwks_server):
    """Registration refuses a short key; one published at a JWKS URL is refused each time it is fetched."""
    url, handler = jwks_server
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    numbers = weak.public_key().public_numbers()
    as_b64 = lambda value: b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))  # noqa: E731
    weak_jwk = {"kty": "RSA", "kid": "weak", "n": as_b64(numbers.n), "e": as_b64(numbers.e)}
    handler.body = json.dumps({"keys": [weak_jwk]}).encode()
    client = gw.register(rsa_key, jwks_url=url, algorithms=["RS256"])
    header = b64url(json.dumps({"alg": "RS256", "kid": "weak", "typ": "JWT"}).encode())
    payload = b64url(json.dumps(assertion_claims(client.client_id)).encode())
    signature = weak.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    form = token_form(f"{header}.{payload}.{b64url(signature)}")

    response = gw.http.post("/oauth2/token", data=form)

    assert "unusable" in _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id)
    with gw.sessions.begin() as session, pytest.raises(registry.InvalidJwks):
        registry.add_client(session, client.agency_code, ["charging"], jwks=json.loads(handler.body))


# --- every allowed algorithm -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_name", "alg"),
    [
        ("rsa_key", "RS512"),
        ("rsa_key", "RS384"),
        ("rsa_key", "PS256"),
        ("ec_key", "ES256"),
        ("ec384_key", "ES384"),
        ("ed_key", "EdDSA"),
    ],
)
def test_every_default_algorithm_gets_a_token_that_opens_a_resource_route(key_name, alg, request, gw):
    key: KeyPair = request.getfixturevalue(key_name)
    client = gw.register(key)
    token = gw.token(client, alg=alg)
    response = gw.http.get(RESOURCE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404  # authenticated: the bundle does not exist for this agency
    assert gw.denials("auth:token:denied") == []


# --- access tokens at a resource route ---------------------------------------------------------


def _resource_refusal(gw: App, token: str) -> dict[str, Any]:
    response = gw.http.get(RESOURCE, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["resourceType"] == "OperationOutcome"
    (entry,) = gw.denials("disclosure:bundle:denied")
    assert entry["reason"].startswith("invalid_token:")
    assert entry["disclosure_id"] == response.headers["x-disclosure-id"]
    return entry


def _forge(gw: App, client: Client, signing_key: SigningKey, **overrides: Any) -> str:
    with gw.sessions() as session:
        record = registry.load_client_record(session, client.client_id)
    assert record is not None
    args: dict[str, Any] = {
        "signing_key": signing_key,
        "issuer": gw.settings.issuer,
        "audience": gw.settings.resource_audience,
        "client": record,
        "purpose": record.purposes[0],
        "scopes": ["system/Bundle.read"],
    }
    args.update(overrides)
    return issue_access_token(**args)[0]


def test_an_expired_access_token(gw, rsa_key):
    client = gw.register(rsa_key)
    token = _forge(gw, client, gw.app.state.gateway.signing_key, now=lambda: time.time() - 600)
    assert "expired" in _resource_refusal(gw, token)["reason"]


def test_a_token_from_another_issuer(gw, rsa_key):
    client = gw.register(rsa_key)
    token = _forge(gw, client, gw.app.state.gateway.signing_key, issuer="https://other-gateway.example")
    assert "issuer" in _resource_refusal(gw, token)["reason"]


def test_a_token_signed_by_another_key_under_the_gateways_kid(gw, rsa_key, impostor_signing_key):
    client = gw.register(rsa_key)
    impostor = SigningKey(key=impostor_signing_key.key, alg="RS256", kid=gw.app.state.gateway.signing_key.kid)
    assert "signature" in _resource_refusal(gw, _forge(gw, client, impostor))["reason"]


def test_a_token_revoked_at_the_revocation_endpoint(gw, rsa_key):
    client = gw.register(rsa_key)
    token = gw.token(client)
    auth = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"), None)
    auth.pop("grant_type")
    assert gw.http.post("/oauth2/revoke", data={"token": token, **auth}).status_code == 200
    assert "revoked" in _resource_refusal(gw, token)["reason"]


def test_a_revoked_clients_live_token(gw, rsa_key):
    client = gw.register(rsa_key)
    token = gw.token(client)
    with gw.sessions.begin() as session:
        registry.revoke_client(session, client.client_id)
    gw.clock.now += 1.0  # the longest a process may trust its cached view
    entry = _resource_refusal(gw, token)
    assert "revoked" in entry["reason"]
    assert entry["client_id"] == client.client_id


# --- revocation across processes ---------------------------------------------------------------


@pytest.mark.parametrize("what", ["token", "client"])
def test_a_revocation_reaches_another_gateway_process_within_one_second(what, gw, rsa_key, settings, rego):
    """Two app instances on one database; the second one's view of revocations is at most 1 s old."""
    client = gw.register(rsa_key)
    token = gw.token(client)
    clock = Clock()
    other = create_app(settings, policy=rego, monotonic=clock)
    try:
        second = AppClient(other, raise_app_exceptions=False)
        bearer = {"Authorization": f"Bearer {token}"}
        assert second.get(RESOURCE, headers=bearer).status_code == 404  # valid there too
        if what == "token":
            auth = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"), None)
            auth.pop("grant_type")
            assert gw.http.post("/oauth2/revoke", data={"token": token, **auth}).status_code == 200
        else:
            with gw.sessions.begin() as session:
                registry.revoke_client(session, client.client_id)
        clock.now += 1.0
        response = second.get(RESOURCE, headers=bearer)
    finally:
        other.state.gateway.sessions.kw["bind"].dispose()
    assert response.status_code == 401
    assert "revoked" in gw.denials("disclosure:bundle:denied")[-1]["reason"]


# --- DPoP (RFC 9449) -----------------------------------------------------------------------------

TOKEN_URL = "http://testserver/oauth2/token"


def _dpop_token(gw: App, client: Client, key: DpopKey, **proof: Any) -> Any:
    form = token_form(sign_assertion(client.key, assertion_claims(client.client_id), alg="RS512"))
    return gw.http.post("/oauth2/token", data=form, headers={"DPoP": key.proof("POST", TOKEN_URL, **proof)})


def test_a_dpop_bound_token_opens_a_resource_route_only_with_a_proof(gw, rsa_key):
    client = gw.register(rsa_key, dpop_required=True)
    key = DpopKey()
    response = _dpop_token(gw, client, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["cnf"] == {"jkt": key.jkt}
    assert gw.http.get(RESOURCE, auth=DpopAuth(body["access_token"], key)).status_code == 404
    assert gw.denials("auth:token:denied") == []


def test_a_client_that_must_use_dpop_gets_no_bearer_token(gw, rsa_key):
    client = gw.register(rsa_key, dpop_required=True)
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"))
    response = gw.http.post("/oauth2/token", data=form)
    assert _assert_token_refusal(gw, response, "invalid_dpop_proof", 400, client.client_id).endswith(":no-dpop-proof")


def test_a_token_request_proof_for_another_url(gw, rsa_key):
    client = gw.register(rsa_key, dpop_required=True)
    key = DpopKey()
    form = token_form(sign_assertion(rsa_key, assertion_claims(client.client_id), alg="RS512"))
    proof = key.proof("POST", "http://testserver/oauth2/introspect")
    response = gw.http.post("/oauth2/token", data=form, headers={"DPoP": proof})
    assert _assert_token_refusal(gw, response, "invalid_dpop_proof", 400, client.client_id).endswith(":wrong-url")


def _bound(gw: App, rsa_key: KeyPair) -> tuple[Client, DpopKey, str]:
    client = gw.register(rsa_key, dpop_required=True)
    key = DpopKey()
    response = _dpop_token(gw, client, key)
    assert response.status_code == 200, response.text
    return client, key, str(response.json()["access_token"])


def _proof_headers(key: DpopKey, token: str, method: str = "GET", url: str = "http://testserver" + RESOURCE, **kw):
    return {"Authorization": f"DPoP {token}", "DPoP": key.proof(method, url, access_token=token, **kw)}


RESOURCE_DPOP_FAILURES = {
    "proof missing": (lambda k, t: {"Authorization": f"DPoP {t}"}, "invalid_dpop_proof", "no-dpop-proof"),
    "wrong method": (lambda k, t: _proof_headers(k, t, method="POST"), "invalid_dpop_proof", "wrong-method"),
    "wrong URL": (
        lambda k, t: _proof_headers(k, t, url="http://testserver/fhir/Bundle"),
        "invalid_dpop_proof",
        "wrong-url",
    ),
    "stale": (lambda k, t: _proof_headers(k, t, iat=int(time.time()) - 120), "invalid_dpop_proof", "stale"),
    "signed by another key": (lambda k, t: _proof_headers(DpopKey(), t), "invalid_dpop_proof", "key-mismatch"),
    "wrong ath": (
        lambda k, t: {"Authorization": f"DPoP {t}", "DPoP": k.proof("GET", "http://testserver" + RESOURCE, ath="x")},
        "invalid_dpop_proof",
        "wrong-access-token-hash",
    ),
    "ath missing": (
        lambda k, t: {"Authorization": f"DPoP {t}", "DPoP": k.proof("GET", "http://testserver" + RESOURCE)},
        "invalid_dpop_proof",
        "wrong-access-token-hash",
    ),
    "typ missing": (lambda k, t: _proof_headers(k, t, header={"typ": DROP}), "invalid_dpop_proof", "typ"),
    "bound token sent as Bearer": (
        lambda k, t: {"Authorization": f"Bearer {t}", "DPoP": k.proof("GET", "http://testserver" + RESOURCE)},
        "invalid_token",
        "bearer",
    ),
}


@pytest.mark.parametrize("name", list(RESOURCE_DPOP_FAILURES))
def test_resource_route_dpop_refusals(name, gw, rsa_key):
    build, error, words = RESOURCE_DPOP_FAILURES[name]
    client, key, token = _bound(gw, rsa_key)
    response = gw.http.get(RESOURCE, headers=build(key, token))
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert "DPoP" in challenge and f'error="{error}"' in challenge
    assert response.json()["resourceType"] == "OperationOutcome"
    (entry,) = gw.denials("disclosure:bundle:denied")
    assert entry["reason"].startswith(f"{error}:") and words in entry["reason"]
    assert entry["client_id"] == client.client_id


def test_a_replayed_resource_proof(gw, rsa_key):
    _client, key, token = _bound(gw, rsa_key)
    headers = _proof_headers(key, token)
    assert gw.http.get(RESOURCE, headers=headers).status_code == 404
    response = gw.http.get(RESOURCE, headers=headers)
    assert response.status_code == 401
    assert "replayed" in gw.denials("disclosure:bundle:denied")[-1]["reason"]


def test_a_bearer_token_sent_with_the_dpop_scheme(gw, rsa_key):
    client = gw.register(rsa_key)
    token = gw.token(client)
    response = gw.http.get(RESOURCE, auth=DpopAuth(token, DpopKey()))
    assert response.status_code == 401
    assert gw.denials("disclosure:bundle:denied")[-1]["reason"] == "invalid_token:not-bound"


@pytest.fixture
def nonce_gw(settings, session_factory, rego, signing_key) -> Iterator[App]:
    settings = settings.model_copy(update={"dpop_nonce": True})
    from gateway.keys import load_or_create_keyring

    load_or_create_keyring(settings.keys_dir)
    write_secret_file(settings.keys_dir / TOKEN_SIGNING_FILE, _private_jwk(signing_key))
    clock = Clock()
    app = create_app(settings, policy=rego, monotonic=clock)
    yield App(app, AppClient(app, raise_app_exceptions=False), settings, session_factory, clock)
    app.state.gateway.sessions.kw["bind"].dispose()


def test_server_nonces_at_the_token_endpoint_and_on_resources(nonce_gw, rsa_key):
    gw = nonce_gw
    client = gw.register(rsa_key, dpop_required=True)
    key = DpopKey()
    first = _dpop_token(gw, client, key)
    assert (first.status_code, first.json()["error"]) == (400, "use_dpop_nonce")
    nonce = first.headers["dpop-nonce"]
    second = _dpop_token(gw, client, key, nonce=nonce)
    assert second.status_code == 200, second.text
    token = second.json()["access_token"]

    without = gw.http.get(RESOURCE, headers=_proof_headers(key, token))
    assert without.status_code == 401
    assert 'error="use_dpop_nonce"' in without.headers["www-authenticate"]
    assert without.headers["dpop-nonce"]
    with_nonce = gw.http.get(RESOURCE, headers=_proof_headers(key, token, nonce=without.headers["dpop-nonce"]))
    assert with_nonce.status_code == 404
    assert gw.denials("auth:token:denied") == []  # nonce challenges are protocol steps, not refusals


# --- rate limits -------------------------------------------------------------------------------


@pytest.fixture
def limited_gw(settings, session_factory, rego, signing_key) -> Iterator[App]:
    limits = {"token_rate_per_minute": 6.0, "token_burst": 2, "resource_rate_per_second": 1.0, "resource_burst": 2}
    settings = settings.model_copy(update=limits)
    from gateway.keys import load_or_create_keyring

    load_or_create_keyring(settings.keys_dir)
    write_secret_file(settings.keys_dir / TOKEN_SIGNING_FILE, _private_jwk(signing_key))
    clock = Clock()
    app = create_app(settings, policy=rego, monotonic=clock)
    yield App(app, AppClient(app, raise_app_exceptions=False), settings, session_factory, clock)
    app.state.gateway.sessions.kw["bind"].dispose()


def _token_request(gw: App, client: Client) -> Any:
    form = token_form(sign_assertion(client.key, assertion_claims(client.client_id), alg="RS512"))
    return gw.http.post("/oauth2/token", data=form)


def test_the_token_endpoint_limits_each_client_and_logs_a_flood_once(limited_gw, rsa_key, other_rsa_key):
    gw = limited_gw
    client, other = gw.register(rsa_key), gw.register(other_rsa_key)
    assert [_token_request(gw, client).status_code for _ in range(2)] == [200, 200]
    flood = [_token_request(gw, client) for _ in range(5)]
    assert {r.status_code for r in flood} == {429}
    assert flood[0].json()["error"] == "slow_down"
    assert flood[0].headers["retry-after"] == "10"  # 6 a minute: the next token in 10 s
    assert _token_request(gw, other).status_code == 200  # per client
    (entry,) = gw.denials("auth:token:denied")
    assert entry["client_id"] == client.client_id and entry["reason"] == "slow_down:rate-limited"
    gw.clock.now += 60  # a minute on: the bucket has refilled, and the next refusal is logged with the count
    assert _token_request(gw, client).status_code == 200
    assert _token_request(gw, client).status_code == 200
    assert _token_request(gw, client).status_code == 429
    assert gw.denials("auth:token:denied")[-1]["reason"] == "slow_down:rate-limited:4"


def test_resource_routes_limit_each_client(limited_gw, rsa_key):
    gw = limited_gw
    client = gw.register(rsa_key)
    bearer = {"Authorization": f"Bearer {gw.token(client)}"}
    assert [gw.http.get(RESOURCE, headers=bearer).status_code for _ in range(2)] == [404, 404]
    first, second = gw.http.get(RESOURCE, headers=bearer), gw.http.get(RESOURCE, headers=bearer)
    assert first.status_code == second.status_code == 429
    assert first.headers["retry-after"] == "1"
    outcome = first.json()
    assert outcome["resourceType"] == "OperationOutcome" and outcome["issue"][0]["code"] == "throttled"
    assert first.headers["x-disclosure-id"]  # the first refusal is logged...
    assert "x-disclosure-id" not in second.headers  # ...the flood after it is not, until a minute passes
    reasons = [e["reason"] for e in gw.denials("disclosure:bundle:denied")]
    assert reasons.count("rate-limited") == 1
    gw.clock.now += 1
    assert gw.http.get(RESOURCE, headers=bearer).status_code == 404


# --- client key rotation -----------------------------------------------------------------------


def test_client_key_rotation_with_overlap(gw, rsa_key, other_rsa_key):
    """Add the new key: both sign; remove the old one: its assertions are refused at once."""
    client = gw.register(rsa_key)
    new = Client(client.client_id, client.agency_code, other_rsa_key)
    with gw.sessions.begin() as session:
        kids = registry.add_client_keys(session, client.client_id, other_rsa_key.jwks)
    assert kids == [rsa_key.kid, other_rsa_key.kid]
    assert gw.token(client) and gw.token(new)
    with gw.sessions.begin() as session:
        assert registry.remove_client_key(session, client.client_id, rsa_key.kid) == [other_rsa_key.kid]
    assert gw.token(new)
    response = _token_request(gw, client)
    assert _assert_token_refusal(gw, response, "invalid_client", 401, client.client_id).endswith(":unknown-key")
    with gw.sessions.begin() as session, pytest.raises(registry.InvalidJwks, match="last key"):
        registry.remove_client_key(session, client.client_id, other_rsa_key.kid)


# --- the gateway's own key rotation ------------------------------------------------------------


@pytest.mark.parametrize(("retired_ago", "status"), [(10, 404), (OVERLAP + 1, 401)])
def test_a_token_signed_by_a_retired_gateway_key(retired_ago, status, gw, rsa_key, signing_key, settings, rego):
    """Within the overlap the old key's tokens still work; after it, they are refused and logged."""
    client = gw.register(rsa_key)
    old_token = _forge(gw, client, signing_key)  # the session key is the one the app signs with
    rotate_signing_key(settings.keys_dir, now=time.time() - retired_ago)
    rotated = create_app(settings, policy=rego)
    try:
        http = AppClient(rotated, raise_app_exceptions=False)
        jwks = http.get("/.well-known/jwks.json").json()["keys"]
        response = http.get(RESOURCE, headers={"Authorization": f"Bearer {old_token}"})
    finally:
        rotated.state.gateway.sessions.kw["bind"].dispose()
    assert (signing_key.kid in [k["kid"] for k in jwks]) is (status == 404)
    assert response.status_code == status
    if status == 401:
        assert gw.denials("disclosure:bundle:denied")[-1]["reason"] == "invalid_token:unknown-key"
