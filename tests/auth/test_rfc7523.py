"""RFC 7523 client authentication, without HTTP or a database: the verifier and the replay cache."""

from __future__ import annotations

import pytest

from gateway.auth.clients import ClientRecord
from gateway.auth.errors import InvalidClient
from gateway.auth.jwks import RegisteredKeys
from gateway.auth.rfc7523 import CLIENT_ASSERTION_TYPE, InMemoryReplayCache, authenticate_client
from gateway.auth.vocab import AgencyType, Purpose
from tests.auth.conftest import TOKEN_URL, assertion_claims, raw_signed, sign_assertion

T0 = 1_900_000_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _client(key, revoked=False):
    return ClientRecord("client-1", "POL", AgencyType.POLICE, (Purpose.CHARGING,), key.jwks, None, revoked)


def _authenticate(assertion, client, *, cache=None, now=T0, **params):
    return authenticate_client(
        {"client_assertion_type": CLIENT_ASSERTION_TYPE, "client_assertion": assertion, **params},
        audience=TOKEN_URL,
        find_client=lambda client_id: client if client_id == client.client_id else None,
        keys=RegisteredKeys(),
        replay_cache=cache or InMemoryReplayCache(lambda: now),
        now=lambda: now,
    )


def test_authenticates_and_reports_the_key_used(rsa_key):
    client = _client(rsa_key)
    claims = assertion_claims("client-1", now=T0)
    result = _authenticate(sign_assertion(rsa_key, claims, alg="PS256"), client)
    assert (result.client_id, result.key_id, result.algorithm, result.assertion_id) == (
        "client-1",
        rsa_key.kid,
        "PS256",
        claims["jti"],
    )


@pytest.mark.parametrize(("offset", "accepted"), [(1, True), (300, True), (301, False), (0, False), (-1, False)])
def test_exp_window(offset, accepted, rsa_key):
    assertion = sign_assertion(rsa_key, assertion_claims("client-1", now=T0, exp=T0 + offset), alg="RS512")
    if accepted:
        assert _authenticate(assertion, _client(rsa_key)).client_id == "client-1"
    else:
        with pytest.raises(InvalidClient):
            _authenticate(assertion, _client(rsa_key))


def test_iat_leeway_is_60_seconds(rsa_key):
    ok = sign_assertion(rsa_key, assertion_claims("client-1", now=T0, iat=T0 + 60), alg="RS512")
    assert _authenticate(ok, _client(rsa_key))
    late = sign_assertion(rsa_key, assertion_claims("client-1", now=T0, iat=T0 + 61), alg="RS512")
    with pytest.raises(InvalidClient) as caught:
        _authenticate(late, _client(rsa_key))
    assert caught.value.reason == "iat is in the future"


def test_bool_exp_is_not_an_integer(rsa_key):
    assertion = sign_assertion(rsa_key, assertion_claims("client-1", now=T0, exp=True), alg="RS512")
    with pytest.raises(InvalidClient) as caught:
        _authenticate(assertion, _client(rsa_key))
    assert "integer" in caught.value.reason


def test_a_jti_may_be_reused_by_another_client_but_not_the_same_one():
    clock = Clock(T0)
    cache = InMemoryReplayCache(clock)
    assert cache.claim("a", "j1", T0 + 100)
    assert not cache.claim("a", "j1", T0 + 100)
    assert cache.claim("b", "j1", T0 + 100)


def test_replay_cache_forgets_after_expiry():
    clock = Clock(T0)
    cache = InMemoryReplayCache(clock)
    assert cache.claim("a", "j1", T0 + 100)
    clock.now = T0 + 101
    assert cache.claim("a", "j1", T0 + 400)


def test_jti_is_claimed_only_after_the_signature_verifies(rsa_key, other_rsa_key):
    """A forger must not be able to burn a legitimate client's jti values."""
    cache = InMemoryReplayCache(lambda: T0)
    claims = assertion_claims("client-1", now=T0)
    forged = sign_assertion(other_rsa_key, claims, alg="RS512", kid=rsa_key.kid)
    with pytest.raises(InvalidClient):
        _authenticate(forged, _client(rsa_key), cache=cache)
    assert _authenticate(sign_assertion(rsa_key, claims, alg="RS512"), _client(rsa_key), cache=cache)


def test_revoked_client(rsa_key):
    assertion = sign_assertion(rsa_key, assertion_claims("client-1", now=T0), alg="RS512")
    with pytest.raises(InvalidClient) as caught:
        _authenticate(assertion, _client(rsa_key, revoked=True))
    assert (caught.value.reason, caught.value.client_id) == ("the client is revoked", "client-1")


def test_a_key_pinned_to_one_alg_refuses_others(rsa_key):
    pinned = ClientRecord(
        "client-1",
        "POL",
        AgencyType.POLICE,
        (Purpose.CHARGING,),
        {"keys": [dict(rsa_key.public_jwk, alg="RS512")]},
        None,
        False,
    )
    assertion = sign_assertion(rsa_key, assertion_claims("client-1", now=T0), alg="PS256")
    with pytest.raises(InvalidClient) as caught:
        _authenticate(assertion, pinned)
    assert "may not be used with alg PS256" in caught.value.reason


def test_crit_header_is_refused(rsa_key):
    header = {"alg": "RS512", "kid": rsa_key.kid, "crit": ["urn:example:ext"], "urn:example:ext": True}
    assertion = raw_signed(header, assertion_claims("client-1", now=T0), rsa_key)
    with pytest.raises(InvalidClient) as caught:
        _authenticate(assertion, _client(rsa_key))
    assert "crit" in caught.value.reason
