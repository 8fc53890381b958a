"""Client public keys: what a JWKS may hold (RFC 7517), key lookup, and JWKS fetched from a URL."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc.jwk import OctKey

from gateway.auth.clients import ClientRecord
from gateway.auth.errors import InvalidJwks
from gateway.auth.jwks import (
    JwksUnavailable,
    RegisteredKeys,
    RemoteJwks,
    algorithms_for,
    cache_lifetime,
    find_key,
    import_public_key,
    validate_public_jwks,
)
from gateway.auth.vocab import AgencyType, Purpose
from tests.auth.conftest import key_pair, weak_rsa_jwks


def _rejected(jwks) -> str:
    with pytest.raises(InvalidJwks) as caught:
        validate_public_jwks(jwks)
    return caught.value.message


def test_accepts_rsa_ec_and_ed25519(rsa_key, ec_key, ed_key):
    jwks = validate_public_jwks({"keys": [rsa_key.public_jwk, ec_key.public_jwk, ed_key.public_jwk]})
    assert [k["kid"] for k in jwks["keys"]] == [rsa_key.kid, ec_key.kid, ed_key.kid]


@pytest.mark.parametrize("value", [None, [], "keys", {"keys": "x"}, {"nokeys": []}])
def test_not_a_jwks(value):
    assert "JSON object with a 'keys' array" in _rejected(value)


def test_empty_and_oversized(rsa_key):
    assert "no keys" in _rejected({"keys": []})
    many = [dict(rsa_key.public_jwk, kid=f"k{i}") for i in range(11)]
    assert "at most 10" in _rejected({"keys": many})


def test_private_members_are_rejected(rsa_key, ec_key, ed_key):
    for pair in (rsa_key, ec_key, ed_key):
        private = dict(pair.private.as_dict(private=True), kid="k")
        assert "private key material" in _rejected({"keys": [private]})


def test_only_d_is_enough_to_reject(ec_key):
    assert "(d)" in _rejected({"keys": [dict(ec_key.public_jwk, d="AAAA")]})


def test_symmetric_keys_are_rejected():
    oct_jwk = dict(OctKey.generate_key(256).as_dict(private=True), kid="k")
    assert "symmetric" in _rejected({"keys": [oct_jwk]})


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"kid": None}, "needs a kid"),
        ({"kid": ""}, "needs a kid"),
        ({"kid": 7}, "needs a kid"),
        ({"use": "enc"}, "use must be 'sig'"),
        ({"key_ops": ["sign", "verify"]}, "key_ops"),
        ({"alg": "none"}, "not accepted"),
        ({"alg": "HS256"}, "not accepted"),
        ({"alg": "ES256"}, "does not fit"),
        ({"kty": "XYZ"}, "kty must be"),
        ({"n": "not base64!"}, "not a valid RSA public key"),
    ],
)
def test_bad_members(change, fragment, rsa_key):
    jwk = dict(rsa_key.public_jwk)
    for name, value in change.items():
        if value is None:
            jwk.pop(name)
        else:
            jwk[name] = value
    assert fragment in _rejected({"keys": [jwk]})


def test_duplicate_kid(rsa_key, ec_key):
    assert "more than once" in _rejected({"keys": [rsa_key.public_jwk, dict(ec_key.public_jwk, kid=rsa_key.kid)]})


def test_weak_or_unusual_keys():
    assert "1024 bits" in _rejected(weak_rsa_jwks(1024))
    assert "public exponent" in _rejected(key_pair(rsa.generate_private_key(public_exponent=3, key_size=2048)).jwks)
    assert "P-256 or P-384" in _rejected(key_pair(ec.generate_private_key(ec.SECP521R1())).jwks)


def test_an_off_curve_ec_point_is_rejected(ec_key):
    jwk = dict(ec_key.public_jwk)
    jwk["y"] = jwk["x"]
    assert "not a valid EC public key" in _rejected({"keys": [jwk]})


def test_algorithms_for(rsa_key, ec_key, ed_key):
    assert algorithms_for(import_public_key(rsa_key.public_jwk)) == {"RS256", "RS384", "RS512", "PS256"}
    assert algorithms_for(import_public_key(dict(rsa_key.public_jwk, alg="RS512"))) == {"RS512"}
    assert algorithms_for(import_public_key(ec_key.public_jwk)) == {"ES256"}
    assert algorithms_for(import_public_key(ed_key.public_jwk)) == {"EdDSA", "Ed25519"}


def test_find_key_never_falls_back_to_the_only_key(rsa_key):
    assert find_key(rsa_key.jwks, rsa_key.kid) is not None
    assert find_key(rsa_key.jwks, "other") is None
    assert find_key(rsa_key.jwks, "") is None
    assert find_key({"keys": "x"}, rsa_key.kid) is None


# --- JWKS at a URL ----------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _remote(responses, clock):
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return responses[min(len(calls), len(responses)) - 1]

    return RemoteJwks(http=httpx.Client(transport=httpx.MockTransport(handler)), clock=clock), calls


def _record(url="https://pol.example/jwks.json"):
    return ClientRecord("c1", "POL", AgencyType.POLICE, (Purpose.CHARGING,), None, url, False)


def test_remote_jwks_is_cached_and_refetched_for_a_new_kid(rsa_key, ec_key):
    clock = Clock()
    remote, calls = _remote([httpx.Response(200, json=rsa_key.jwks), httpx.Response(200, json=ec_key.jwks)], clock)
    keys = RegisteredKeys(remote)

    assert keys.find(_record(), rsa_key.kid) is not None
    assert keys.find(_record(), rsa_key.kid) is not None
    assert len(calls) == 1
    # An unknown kid refetches only once the refresh interval has passed.
    assert keys.find(_record(), ec_key.kid) is None
    assert len(calls) == 1
    clock.now += 61
    assert keys.find(_record(), ec_key.kid) is not None
    assert len(calls) == 2


def test_remote_jwks_expires(rsa_key):
    clock = Clock()
    remote, calls = _remote([httpx.Response(200, json=rsa_key.jwks)], clock)
    remote.get("https://pol.example/jwks.json")
    clock.now += 301
    remote.get("https://pol.example/jwks.json")
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        (httpx.Response(404), "HTTP 404"),
        (httpx.Response(200, content=b"not json"), "not JSON"),
        (httpx.Response(200, content=b"{" + b" " * 70_000 + b"}"), "exceeds"),
    ],
)
def test_remote_jwks_failures(response, fragment):
    remote, _ = _remote([response], Clock())
    with pytest.raises(JwksUnavailable) as caught:
        remote.get("https://pol.example/jwks.json")
    assert fragment in str(caught.value)


def test_remote_jwks_with_a_private_key_is_refused(rsa_key):
    private = dict(rsa_key.private.as_dict(private=True), kid="k")
    remote, _ = _remote([httpx.Response(200, json={"keys": [private]})], Clock())
    with pytest.raises(JwksUnavailable) as caught:
        remote.get("https://pol.example/jwks.json")
    assert "private key material" in str(caught.value)


def test_network_errors_become_jwks_unavailable():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    remote = RemoteJwks(http=httpx.Client(transport=httpx.MockTransport(handler)))
    with pytest.raises(JwksUnavailable) as caught:
        remote.get("https://pol.example/jwks.json")
    assert "ConnectError" in str(caught.value)


@pytest.mark.parametrize(
    ("header", "lifetime"),
    [
        (None, 300),
        ("max-age=10", 10),
        ("public, max-age=86400", 300),
        ("no-store", 0),
        ("no-cache, max-age=60", 0),
        ("max-age=soon", 0),
    ],
)
def test_cache_control_bounds_how_long_a_jwks_is_reused(header, lifetime, rsa_key):
    assert cache_lifetime(header, 300) == lifetime
    clock = Clock()
    headers = {} if header is None else {"Cache-Control": header}
    remote, calls = _remote([httpx.Response(200, json=rsa_key.jwks, headers=headers)], clock)
    remote.get("https://pol.example/jwks.json")
    if lifetime:
        clock.now += lifetime - 0.5
        remote.get("https://pol.example/jwks.json")
        assert len(calls) == 1
    clock.now += 1
    remote.get("https://pol.example/jwks.json")
    assert len(calls) == 2


def test_an_uncacheable_jwks_is_still_refetched_for_an_unknown_kid_at_a_bounded_rate(rsa_key):
    clock = Clock()
    remote, calls = _remote([httpx.Response(200, json=rsa_key.jwks, headers={"Cache-Control": "no-store"})], clock)
    keys = RegisteredKeys(remote)
    for _ in range(5):
        assert keys.find(_record(), "bogus-kid") is None
    assert len(calls) == 5  # one fetch per assertion (no-store), never a second for the unknown kid


@pytest.mark.parametrize("url", ["http://pol.example/jwks.json", "ftp://127.0.0.1/jwks.json"])
def test_a_jwks_url_that_is_not_https_is_never_fetched(url, rsa_key):
    remote, calls = _remote([httpx.Response(200, json=rsa_key.jwks)], Clock())
    with pytest.raises(JwksUnavailable, match="https"):
        remote.get(url)
    assert calls == []
