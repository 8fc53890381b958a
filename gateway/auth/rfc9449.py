"""Demonstrating Proof of Possession, DPoP (RFC 9449), on joserfc: Authlib has none.

A DPoP proof is a JWT the client signs, per request, with a key of its own whose public half rides in
the header. The token endpoint binds the access token to that key (``cnf.jkt``, the key's RFC 7638
thumbprint, section 6.1); each resource request then carries a fresh proof for its method and URL
and the hash of the token (``ath``, section 4.2). A stolen token is useless without the key.

:func:`verify_proof` is the section 4.3 checklist, in its order:

1. exactly one ``DPoP`` header (the caller passes the values it found);
2. a well-formed compact JWS of reasonable size;
3-5. header ``typ`` ``dpop+jwt``, an asymmetric ``alg`` from :data:`PROOF_ALGORITHMS` (never ``none``,
   never HMAC), a ``jwk`` that is a public key (no private members) fitting the ``alg``;
6. the signature verifies with that ``jwk``;
7-9. claims ``jti`` (string), ``htm`` (the request method), ``htu`` (the request URL without query and
   fragment, compared after RFC 3986 normalisation), ``iat`` within the window;
10. the server ``nonce``, when the gateway requires one (section 8);
11. ``ath``, when an access token is presented (section 7.1);
then the ``jti`` is claimed in the replay store (section 11.1), last, so a forged proof cannot burn
a real one. The caller compares the returned ``jkt`` with the token's ``cnf.jkt``.

Errors: :class:`~gateway.auth.errors.InvalidDpopProof` (``invalid_dpop_proof``) and
:class:`~gateway.auth.errors.UseDpopNonce` (``use_dpop_nonce``); their ``reason`` is precise, for the log.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from gateway import json_text
from gateway.auth._bounded import Bounded
from gateway.auth.errors import InvalidDpopProof, InvalidJwks, UseDpopNonce
from gateway.auth.jwks import algorithms_for, import_public_key
from gateway.auth.rfc7523 import ReplayCache

PROOF_TYPE = "dpop+jwt"
#: Asymmetric algorithms only (section 4.2): the assertion algorithms, RS256 included.
PROOF_ALGORITHMS: tuple[str, ...] = ("ES256", "ES384", "PS256", "RS256", "RS384", "RS512", "EdDSA", "Ed25519")
#: How old a proof's ``iat`` may be, and how far ahead of our clock (section 11.1: a short window).
MAX_PROOF_AGE = 60
MAX_PROOF_AHEAD = 10
MAX_PROOF_LENGTH = 8192
MAX_JTI_LENGTH = 256
#: A server nonce is valid in the window it was issued and the next one (section 8).
NONCE_WINDOW = 300
#: The nonce key, under the gateway's keys directory (every process of one gateway shares it).
DPOP_NONCE_FILE = "dpop-nonce.key"
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class DpopProof:
    """A verified proof: the thumbprint of its key, its ``jti`` and ``iat``."""

    jkt: str
    jti: str
    iat: int


class _ProofRegistry(JWSRegistry):
    """The proof algorithms and nothing else (joserfc's own default would admit HS256). The header
    carries the whole public key: an RSA 4096 ``jwk`` needs more than joserfc's default 512 bytes."""

    max_header_length = 2048

    def get_alg(self, name: str) -> Any:
        if name not in PROOF_ALGORITHMS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY = _ProofRegistry(algorithms=list(PROOF_ALGORITHMS), strict_check_header=False)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_thumbprint(jwk: Mapping[str, Any] | Key) -> str:
    """The RFC 7638 SHA-256 thumbprint of a public key: the ``jkt`` of section 6.1."""
    key = jwk if isinstance(jwk, (RSAKey, ECKey, OKPKey)) else JWKRegistry.import_key(dict(jwk))
    return str(key.thumbprint())


def access_token_hash(token: str) -> str:
    """``ath`` (section 4.2): base64url of the SHA-256 of the token's ASCII bytes."""
    return b64url(hashlib.sha256(token.encode("ascii")).digest())


@functools.lru_cache(maxsize=1024)
def normalise_htu(url: str) -> str:
    """The URL without query and fragment, scheme and host in lower case, default port dropped
    (RFC 3986 sections 6.2.2 and 6.2.3, as section 4.3 asks)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def verify_proof(
    values: Sequence[str],
    *,
    method: str,
    url: str,
    replay_cache: ReplayCache,
    now: float,
    access_token: str | None = None,
    nonces: DpopNonces | None = None,
) -> DpopProof:
    """Check the ``DPoP`` header ``values`` of a request to ``method`` ``url`` (section 4.3)."""
    if not values:
        raise InvalidDpopProof("a DPoP proof is required", reason="no DPoP header")
    if len(values) > 1:
        raise InvalidDpopProof("send exactly one DPoP header", reason="more than one DPoP header")
    proof = values[0].strip()
    if not proof or len(proof) > MAX_PROOF_LENGTH:
        raise InvalidDpopProof(reason="DPoP proof empty or too long")
    try:
        signed = extract_compact(proof.encode("ascii"), registry=_REGISTRY)
        claims = json_text.loads(signed.payload)
    except (JoseError, ValueError, UnicodeError):
        raise InvalidDpopProof(reason="DPoP proof is not a compact JWS with a JSON payload") from None
    if not isinstance(claims, dict):
        raise InvalidDpopProof(reason="DPoP proof payload is not an object")
    header = dict(signed.headers())

    if header.get("typ") != PROOF_TYPE:
        raise InvalidDpopProof(reason="typ is not dpop+jwt")
    alg = header.get("alg")
    if alg not in PROOF_ALGORITHMS:
        raise InvalidDpopProof(reason="alg is not an allowed asymmetric algorithm")
    if "crit" in header or "b64" in header:
        raise InvalidDpopProof(reason="crit or b64 header")
    key, algorithms, jkt = _proof_key(proof.partition(".")[0], header.get("jwk"))
    if alg not in algorithms:
        raise InvalidDpopProof(reason=f"the jwk does not fit alg {alg}")
    try:
        if not validate_compact(signed, key, registry=_REGISTRY):
            raise InvalidDpopProof(reason="DPoP proof signature does not verify")
    except JoseError as exc:
        raise InvalidDpopProof(reason=f"DPoP proof signature check failed: {exc.error}") from None

    jti, htm, htu, iat = claims.get("jti"), claims.get("htm"), claims.get("htu"), claims.get("iat")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise InvalidDpopProof(reason="jti missing or not a short string")
    if htm != method:
        raise InvalidDpopProof(reason="htm is not the request method")
    if not isinstance(htu, str) or normalise_htu(htu) != normalise_htu(url):
        raise InvalidDpopProof(reason="htu is not the request URL")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise InvalidDpopProof(reason="iat missing or not an integer")
    if iat < now - MAX_PROOF_AGE:
        raise InvalidDpopProof(reason=f"stale proof (iat {int(now - iat)} s ago)")
    if iat > now + MAX_PROOF_AHEAD:
        raise InvalidDpopProof(reason="iat in the future")
    if nonces is not None:
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not nonces.check(nonce, now):
            raise UseDpopNonce(reason="DPoP nonce missing or stale")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise InvalidDpopProof(reason="ath is not the hash of the access token")

    if not replay_cache.claim(f"dpop:{jkt}", jti, float(iat + MAX_PROOF_AGE + MAX_PROOF_AHEAD)):
        raise InvalidDpopProof(reason="replayed DPoP proof (jti seen before)")
    return DpopProof(jkt=jkt, jti=jti, iat=iat)


def _proof_key(header_segment: str, jwk: object) -> tuple[Key, frozenset[str], str]:
    """The proof's ``jwk`` imported and checked (:func:`import_public_key`), the algorithms it may sign
    with, and its thumbprint.

    A client signs every proof with the same key, so its proofs' protected headers are the same bytes:
    what those bytes' ``jwk`` imports to is kept by them (only a key that passed the checks is kept).
    The signature of each proof is still verified with it, every time."""
    known = _PROOF_KEYS.get(header_segment)
    if known is not None:
        return known
    try:
        key = import_public_key(jwk, where="jwk", require_kid=False)
    except InvalidJwks as exc:
        raise InvalidDpopProof(reason=f"jwk header unusable: {exc.message}") from None
    known = (key, algorithms_for(key), jwk_thumbprint(key))
    _PROOF_KEYS.put(header_segment, known)
    return known


#: Protected header segments of proofs seen, and what their ``jwk`` imported to.
_PROOF_KEYS: Bounded[str, tuple[Key, frozenset[str], str]] = Bounded(1024)


class DpopNonces:
    """Server nonces (section 8) that need no shared state: ``window || HMAC(key, window)``.

    Every process holding the same key (``keys/dpop-nonce.key``) issues and accepts the same nonces;
    a nonce is valid in its window of :data:`NONCE_WINDOW` seconds and the next.
    """

    def __init__(self, key: bytes, clock: Callable[[], float] = time.time) -> None:
        if len(key) < 32:
            raise ValueError("the DPoP nonce key must be at least 32 bytes")
        self._key = key
        self._clock = clock

    def _for(self, window: int) -> str:
        packed = struct.pack(">Q", window)
        return b64url(packed + hmac.new(self._key, packed, hashlib.sha256).digest()[:16])

    def issue(self, now: float | None = None) -> str:
        return self._for(int((self._clock() if now is None else now) // NONCE_WINDOW))

    def check(self, nonce: str, now: float) -> bool:
        current = int(now // NONCE_WINDOW)
        return any(hmac.compare_digest(nonce, self._for(window)) for window in (current, current - 1))
