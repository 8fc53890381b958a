"""DPoP proofs (RFC 9449): the RFC's own examples, and each proof check failing once."""

from __future__ import annotations

import time

import pytest

from gateway.auth.errors import InvalidDpopProof, UseDpopNonce
from gateway.auth.rfc7523 import InMemoryReplayCache
from gateway.auth.rfc9449 import (
    DpopNonces,
    access_token_hash,
    jwk_thumbprint,
    normalise_htu,
    verify_proof,
)
from tests.auth.conftest import b64url, hmac_jwt, unsigned_jwt
from tests.dpop import DROP, DpopKey

# RFC 9449 section 4.1, figure 4 (the proof of the token request in section 5, figure 6).
RFC_PROOF = (
    "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpD"
    "a0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6"
    "IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbG"
    "UuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-"
    "FNyJK70nfbV37xRZT3Lg"
)
RFC_IAT = 1562262616
RFC_JWK = {
    "kty": "EC",
    "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
    "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA",
    "crv": "P-256",
}
# Section 6.1: the thumbprint of that key. Section 7.1: a token and its ath.
RFC_JKT = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
RFC_TOKEN = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
RFC_ATH = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
URL = "https://gateway.example/fhir/Bundle"


def _verify(proof, *, method="GET", url=URL, now=None, cache=None, **kwargs):
    return verify_proof(
        [proof],
        method=method,
        url=url,
        replay_cache=cache or InMemoryReplayCache(),
        now=time.time() if now is None else now,
        **kwargs,
    )


def test_the_rfc_proof_verifies_and_names_the_rfc_thumbprint():
    proof = _verify(RFC_PROOF, method="POST", url="https://server.example.com/token", now=RFC_IAT + 5)
    assert (proof.jkt, proof.jti, proof.iat) == (RFC_JKT, "-BwC3ESc6acc2lTc", RFC_IAT)
    assert jwk_thumbprint(RFC_JWK) == RFC_JKT


def test_the_rfc_access_token_hash():
    assert access_token_hash(RFC_TOKEN) == RFC_ATH


def test_the_rfc_proof_is_stale_a_minute_later_and_for_another_url():
    with pytest.raises(InvalidDpopProof, match="stale"):
        _verify(RFC_PROOF, method="POST", url="https://server.example.com/token", now=RFC_IAT + 61)
    with pytest.raises(InvalidDpopProof, match="htu"):
        _verify(RFC_PROOF, method="POST", url="https://server.example.com/other", now=RFC_IAT)


@pytest.mark.parametrize(
    ("given", "request_url"),
    [
        ("https://gateway.example/fhir/Bundle", "https://gateway.example/fhir/Bundle?patient.identifier=x"),
        ("HTTPS://Gateway.Example:443/fhir/Bundle", "https://gateway.example/fhir/Bundle"),
        ("https://gateway.example/fhir/Bundle#frag", "https://gateway.example/fhir/Bundle"),
    ],
)
def test_htu_is_compared_without_query_or_fragment_and_normalised(given, request_url):
    assert normalise_htu(given) == normalise_htu(request_url)


def test_a_good_proof_with_a_token():
    key = DpopKey()
    proof = _verify(key.proof("GET", URL, access_token="tok"), access_token="tok")
    assert proof.jkt == key.jkt


@pytest.mark.parametrize("alg", ["ES256", "ES384", "PS256", "RS512", "EdDSA"])
def test_every_asymmetric_algorithm(alg, rsa_key, ec384_key, ed_key):
    from joserfc.jwk import ECKey

    private = {"ES256": ECKey.generate_key("P-256", private=True), "ES384": ec384_key.private}.get(alg)
    if alg in ("PS256", "RS512"):
        private = rsa_key.private
    if alg == "EdDSA":
        private = ed_key.private
    key = DpopKey(private, alg)
    assert _verify(key.proof("GET", URL)).jkt == key.jkt


def _other_key_signed(key: DpopKey) -> str:
    """Header jwk of one key, signature by another."""
    other = DpopKey()
    return other.proof("GET", URL, header={"jwk": key.public_jwk})


PROOF_FAILURES = {
    "not a JWT": (lambda k: "nonsense", "compact JWS"),
    "typ JWT": (lambda k: k.proof("GET", URL, header={"typ": "JWT"}), "typ"),
    "alg none": (
        lambda k: unsigned_jwt(
            {"typ": "dpop+jwt", "alg": "none", "jwk": k.public_jwk}, {"jti": "j", "htm": "GET", "htu": URL}
        ),
        "alg",
    ),
    "HS256": (
        lambda k: hmac_jwt(
            {"typ": "dpop+jwt", "alg": "HS256", "jwk": k.public_jwk},
            {"jti": "j", "htm": "GET", "htu": URL, "iat": int(time.time())},
            b"secret",
        ),
        "alg",
    ),
    "jwk missing": (lambda k: k.proof("GET", URL, header={"jwk": DROP}), "jwk"),
    "jwk with the private key": (
        lambda k: k.proof("GET", URL, header={"jwk": dict(k.key.as_dict(private=True))}),
        "private",
    ),
    "symmetric jwk": (lambda k: k.proof("GET", URL, header={"jwk": {"kty": "oct", "k": b64url(b"x" * 32)}}), "jwk"),
    "signed by another key": (_other_key_signed, "signature"),
    "jti missing": (lambda k: k.proof("GET", URL, jti=DROP), "jti"),
    "jti not a string": (lambda k: k.proof("GET", URL, jti=7), "jti"),
    "wrong method": (lambda k: k.proof("POST", URL), "htm"),
    "wrong URL": (lambda k: k.proof("GET", "https://gateway.example/fhir/Task"), "htu"),
    "other host": (lambda k: k.proof("GET", "https://evil.example/fhir/Bundle"), "htu"),
    "htu missing": (lambda k: k.proof("GET", URL, htu=DROP), "htu"),
    "iat missing": (lambda k: k.proof("GET", URL, iat=DROP), "iat"),
    "iat a string": (lambda k: k.proof("GET", URL, iat=str(int(time.time()))), "iat"),
    "stale": (lambda k: k.proof("GET", URL, iat=int(time.time()) - 61), "stale"),
    "from the future": (lambda k: k.proof("GET", URL, iat=int(time.time()) + 30), "future"),
}


@pytest.mark.parametrize("name", list(PROOF_FAILURES))
def test_proof_failures(name):
    build, words = PROOF_FAILURES[name]
    with pytest.raises(InvalidDpopProof) as caught:
        _verify(build(DpopKey()))
    assert words in caught.value.reason
    assert caught.value.error == "invalid_dpop_proof"


def test_a_proof_by_a_key_seen_before_is_still_verified_each_time():
    """Proofs by one key share their protected header, and what its jwk imports to is kept: the
    signature of every proof is checked all the same."""
    key = DpopKey()
    first, second = key.proof("GET", URL), key.proof("GET", URL)
    assert _verify(first).jkt == key.jkt
    header, payload, _signature = second.split(".")
    assert header == first.split(".")[0]
    with pytest.raises(InvalidDpopProof, match="signature"):
        _verify(".".join((header, payload, first.split(".")[2])))
    assert _verify(second).jkt == key.jkt


def test_wrong_ath_and_missing_ath():
    key = DpopKey()
    with pytest.raises(InvalidDpopProof, match="ath"):
        _verify(key.proof("GET", URL, access_token="another"), access_token="tok")
    with pytest.raises(InvalidDpopProof, match="ath"):
        _verify(key.proof("GET", URL), access_token="tok")


def test_no_header_and_two_headers():
    key = DpopKey()
    with pytest.raises(InvalidDpopProof, match="no DPoP"):
        verify_proof([], method="GET", url=URL, replay_cache=InMemoryReplayCache(), now=time.time())
    with pytest.raises(InvalidDpopProof, match="more than one"):
        verify_proof(
            [key.proof("GET", URL), key.proof("GET", URL)],
            method="GET",
            url=URL,
            replay_cache=InMemoryReplayCache(),
            now=time.time(),
        )


def test_a_replayed_proof_and_the_jti_claimed_only_after_the_checks():
    key = DpopKey()
    cache = InMemoryReplayCache()
    proof = key.proof("GET", URL, access_token="tok")
    with pytest.raises(InvalidDpopProof):
        _verify(proof, cache=cache, access_token="other")  # refused before its jti is claimed
    assert _verify(proof, cache=cache, access_token="tok")
    with pytest.raises(InvalidDpopProof, match="replayed"):
        _verify(proof, cache=cache, access_token="tok")


def test_nonces():
    nonces = DpopNonces(b"k" * 32)
    now = 1_900_000_000.0
    key = DpopKey()
    issued = nonces.issue(now)
    with pytest.raises(UseDpopNonce):
        _verify(key.proof("GET", URL, iat=int(now)), now=now, nonces=nonces)
    assert _verify(key.proof("GET", URL, iat=int(now), nonce=issued), now=now, nonces=nonces)
    assert nonces.check(issued, now + 300)  # the next window still accepts it
    assert not nonces.check(issued, now + 600)
    assert not DpopNonces(b"x" * 32).check(issued, now)
