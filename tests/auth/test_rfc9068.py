"""JWT access tokens (RFC 9068): issue, validate, and every way validation must fail."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest

from gateway.auth.clients import ClientRecord
from gateway.auth.errors import InvalidToken
from gateway.auth.rfc9068 import (
    AccessContext,
    issue_access_token,
    resource_audience,
    validate_access_token,
    verified_claims,
)
from gateway.auth.vocab import AgencyType, Purpose, Scope
from tests.auth.conftest import b64url, unsigned_jwt

ISSUER = "https://gateway.example"
AUDIENCE = "https://gateway.example/fhir"
CLIENT = ClientRecord(
    client_id="client-1",
    agency_code="POL-NE",
    agency_type=AgencyType.POLICE,
    purposes=(Purpose.CHARGING,),
    jwks=None,
    jwks_url=None,
    revoked=False,
)
T0 = 1_900_000_000.0


def _issue(signing_key, *, now=T0, ttl=300, client=CLIENT):
    return issue_access_token(
        signing_key=signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        client=client,
        purpose=Purpose.CHARGING,
        scopes={Scope.BUNDLE_READ},
        ttl=ttl,
        now=lambda: now,
    )


def _validate(token, signing_key, *, now=T0 + 10, issuer=ISSUER, audience=AUDIENCE, active=True, revoked=None):
    return validate_access_token(
        token,
        signing_key=signing_key,
        issuer=issuer,
        audience=audience,
        is_client_active=lambda _client_id: active,
        now=lambda: now,
        is_token_revoked=revoked,
    )


def _reason(token, signing_key, **kwargs) -> str:
    with pytest.raises(InvalidToken) as caught:
        _validate(token, signing_key, **kwargs)
    error = caught.value
    assert (error.error, error.status) == ("invalid_token", 401)
    assert error.description == "The access token is invalid or expired."
    return error.reason


def _parts(token):
    header, payload, signature = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header))),
        json.loads(base64.urlsafe_b64decode(pad(payload))),
        signature,
    )


def test_issued_token_has_the_rfc_9068_shape(signing_key):
    token, expires_in = _issue(signing_key)
    header, claims, _ = _parts(token)
    assert expires_in == 300
    assert header == {"typ": "at+jwt", "alg": "RS256", "kid": signing_key.kid}
    assert claims["iss"] == ISSUER
    assert claims["sub"] == claims["client_id"] == "client-1"
    assert claims["aud"] == AUDIENCE
    assert claims["exp"] - claims["iat"] == 300
    assert claims["agency"] == "POL-NE"
    assert claims["agency_type"] == "police"
    assert claims["purpose_of_use"] == "charging"
    assert claims["scope"] == "system/Bundle.read"
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 20


def test_validation_returns_the_access_context(signing_key):
    token, _ = _issue(signing_key)
    context = _validate(token, signing_key)
    assert context == AccessContext(
        client_id="client-1",
        agency_code="POL-NE",
        agency_type=AgencyType.POLICE,
        purpose=Purpose.CHARGING,
        token_id=_parts(token)[1]["jti"],
        expires_at=datetime.fromtimestamp(T0 + 300, UTC),
        scopes=frozenset({"system/Bundle.read"}),
    )


def test_ttl_is_capped_at_300_seconds(signing_key):
    assert _issue(signing_key, ttl=3600)[1] == 300
    assert _issue(signing_key, ttl=60)[1] == 60


def test_resource_audience_is_the_fhir_base():
    assert resource_audience("https://gateway.example/") == "https://gateway.example/fhir"


def test_expired(signing_key):
    token, _ = _issue(signing_key)
    assert "expired" in _reason(token, signing_key, now=T0 + 301)


def test_signed_by_another_key(signing_key, impostor_signing_key):
    token, _ = _issue(impostor_signing_key)
    assert _reason(token, signing_key) == "bad signature"


def test_a_token_verified_before_is_verified_again_under_any_other_key_and_still_expires(
    signing_key, impostor_signing_key
):
    """The claims of a token whose signature verified are reused only with the very key object that
    verified it: the same bytes under another key with the same kid (an impostor here; a rotation in
    service) are checked afresh, and what changes over a token's life is checked every time."""
    token, _ = _issue(signing_key)
    assert _validate(token, signing_key).client_id == "client-1"
    assert _reason(token, impostor_signing_key) == "bad signature"
    assert _validate(token, signing_key).client_id == "client-1"
    assert "expired" in _reason(token, signing_key, now=T0 + 301)
    assert _reason(token, signing_key, active=False) == "client revoked or no longer registered"


def test_wrong_issuer(signing_key):
    token, _ = _issue(signing_key)
    assert _reason(token, signing_key, issuer="https://other.example") == "wrong issuer"


def test_wrong_audience(signing_key):
    token, _ = _issue(signing_key)
    assert _reason(token, signing_key, audience="https://gateway.example/audit") == "wrong audience"


def test_revoked_client(signing_key):
    token, _ = _issue(signing_key)
    reason = _reason(token, signing_key, active=False)
    assert "client revoked" in reason


def test_revoked_token(signing_key):
    token, _ = _issue(signing_key)
    jti = _parts(token)[1]["jti"]
    assert "token revoked" in _reason(token, signing_key, revoked=lambda candidate: candidate == jti)


@pytest.mark.parametrize(
    "change",
    [
        {"purpose_of_use": "sentencing"},
        {"agency": "MC-NE"},
        {"exp": T0 + 3600},
        {"client_id": "client-2", "sub": "client-2"},
    ],
)
def test_tampered_payload(change, signing_key):
    token, _ = _issue(signing_key)
    _header, claims, signature = _parts(token)
    claims.update(change)
    forged = f"{token.split('.')[0]}.{b64url(json.dumps(claims).encode())}.{signature}"
    assert _reason(forged, signing_key) == "bad signature"


def test_alg_none(signing_key):
    _, claims, _ = _parts(_issue(signing_key)[0])
    token = unsigned_jwt({"typ": "at+jwt", "alg": "none", "kid": signing_key.kid}, claims)
    assert "alg is not the key's RS256" in _reason(token, signing_key)


def test_a_client_assertion_is_not_an_access_token(signing_key):
    _, claims, _ = _parts(_issue(signing_key)[0])
    token = signing_key.sign({"typ": "JWT"}, claims)
    assert "not at+jwt" in _reason(token, signing_key)


def test_unknown_kid(signing_key):
    _, claims, _ = _parts(_issue(signing_key)[0])
    token = signing_key.sign({"typ": "at+jwt", "kid": "other"}, claims)
    # SigningKey.sign always stamps its own kid; forge the header instead.
    _header, payload, signature = token.split(".")
    forged_header = b64url(json.dumps({"typ": "at+jwt", "alg": "RS256", "kid": "other"}).encode())
    assert "kid does not name a gateway signing key in use" in _reason(
        f"{forged_header}.{payload}.{signature}", signing_key
    )


def test_lifetime_over_300_seconds_is_refused_even_when_signed(signing_key):
    _, claims, _ = _parts(_issue(signing_key)[0])
    claims["exp"] = claims["iat"] + 900
    assert "exceeds 300" in _reason(signing_key.sign({"typ": "at+jwt"}, claims), signing_key)


def test_issued_in_the_future(signing_key):
    token, _ = _issue(signing_key, now=T0 + 120)
    assert _reason(token, signing_key, now=T0) == "issued in the future"


@pytest.mark.parametrize("token", ["", "x", "a.b", "a.b.c", "é.b.c", "x" * 5000])
def test_malformed(token, signing_key):
    assert _reason(token, signing_key)


def test_verified_claims_reads_an_expired_token_but_not_a_forged_one(signing_key, impostor_signing_key):
    token, _ = _issue(signing_key, now=time.time() - 3600)
    assert verified_claims(token, signing_key=signing_key)["client_id"] == "client-1"
    with pytest.raises(InvalidToken):
        verified_claims(_issue(impostor_signing_key)[0], signing_key=signing_key)
