"""Client authentication with a signed JWT, ``private_key_jwt`` (RFC 7523 sections 2.2 and 3).

The assertion is checked with joserfc directly. Authlib's ``JWTBearerClientAssertion`` was
considered: it runs outside Flask and Django (it needs only ``request.form``), but it verifies with
no algorithm allow-list (joserfc then falls back to HS256/RS256/ES256, refusing RS512, PS256 and
EdDSA), lets a single-key JWKS stand in for a missing ``kid``, puts no bound on ``exp`` and no check
on ``iat``, and folds every failure into one error with joserfc's message. Making it fit meant
replacing most of its methods; Authlib itself delegates to joserfc, so we call joserfc.

Checks run in two stages. First the request and the assertion's own content (assertion type, JOSE
header, claims), which depend on nothing the gateway holds, so the caller is told precisely what is
wrong. Then the checks against gateway state (the client exists and is live, the ``kid`` names one
of its keys, the signature verifies, the ``jti`` is fresh); these all answer "client authentication
failed", so nobody can probe which clients or keys exist. The precise reason always goes into the
error's ``reason`` for the disclosure log.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeGuard

from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jws import CompactSignature, JWSRegistry, extract_compact, validate_compact

from gateway import json_text
from gateway.auth.clients import AuthenticatedClient, ClientRecord
from gateway.auth.errors import InvalidClient, InvalidJwks
from gateway.auth.jwks import ClientKeys, JwksUnavailable, algorithms_for, client_allows
from gateway.auth.vocab import ASSERTION_ALGORITHMS

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: How far ahead ``exp`` may be (NHS England's signed-JWT pattern and SMART Backend Services: 5 minutes).
MAX_ASSERTION_LIFETIME = 300
#: Leeway for ``iat`` and ``nbf`` slightly in the future: the client's clock may run ahead of ours.
CLOCK_SKEW = 60
MAX_ASSERTION_LENGTH = 8192
MAX_JTI_LENGTH = 256
# "JWT" is what clients send today; the second is the explicit type of draft-ietf-oauth-rfc7523bis.
_ACCEPTED_TYPES = frozenset({"jwt", "client-authentication+jwt", "application/client-authentication+jwt"})


class ReplayCache(Protocol):
    """Remembers the ``jti`` of every accepted assertion until it expires (RFC 7523 section 3, item 7)."""

    def claim(self, client_id: str, jti: str, expires_at: float) -> bool:
        """Record ``(client_id, jti)`` until ``expires_at``. True the first time, False on a replay.
        Must be atomic: of two concurrent claims of one pair, exactly one returns True."""
        ...


class InMemoryReplayCache:
    """A :class:`ReplayCache` for one process (unit tests); the gateway uses
    :class:`gateway.auth.store.DatabaseReplayCache`, shared by every process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def claim(self, client_id: str, jti: str, expires_at: float) -> bool:
        now = self._clock()
        with self._lock:
            if now >= self._next_purge:
                self._seen = {k: t for k, t in self._seen.items() if t > now}
                self._next_purge = now + 30
            seen_until = self._seen.get((client_id, jti))
            if seen_until is not None and seen_until > now:
                return False
            self._seen[(client_id, jti)] = expires_at
            return True


class _AssertionRegistry(JWSRegistry):
    """Exactly the assertion algorithms, nothing else.

    joserfc warns that "EdDSA" is deprecated by RFC 9864; accepting it alongside "Ed25519" is a
    deliberate choice here (it is what clients send), so the warning is not raised per request.
    """

    def get_alg(self, name: str) -> Any:
        if name not in ASSERTION_ALGORITHMS or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


_REGISTRY = _AssertionRegistry(algorithms=ASSERTION_ALGORITHMS, strict_check_header=False)


def authenticate_client(
    params: Mapping[str, str],
    *,
    audience: str,
    find_client: Callable[[str], ClientRecord | None],
    keys: ClientKeys,
    replay_cache: ReplayCache,
    now: Callable[[], float] = time.time,
) -> AuthenticatedClient:
    """Authenticate the client of a token, introspection or revocation request by its assertion.

    ``params`` are the request's form parameters; ``audience`` is the token endpoint URL, which the
    assertion's ``aud`` must be or contain. Raises :class:`InvalidClient`.
    """
    current = now()
    header, claims, signed = _parse(params)
    sub = claims.get("sub")
    claimed = sub if isinstance(sub, str) and 0 < len(sub) <= 64 else None

    def refuse(reason: str, description: str | None = None) -> InvalidClient:
        # Name the claimed client in the log only when it is a registered one.
        known = claimed if claimed is not None and find_client(claimed) is not None else None
        return InvalidClient(description, reason=reason, client_id=known)

    problem = _check_header(header) or _check_claims(claims, params, audience, current)
    if problem is not None:
        raise refuse(problem, f"client_assertion rejected: {problem}")
    assert claimed is not None  # _check_claims guarantees it
    alg, kid, jti, exp = header["alg"], header["kid"], claims["jti"], claims["exp"]

    client = find_client(claimed)
    if client is None:
        raise InvalidClient(reason="unknown client")
    if client.revoked:
        raise InvalidClient(reason="the client is revoked", client_id=client.client_id)
    if not client_allows(client.algorithms, alg):
        raise InvalidClient(reason=f"alg {alg} is not in the client's allow-list", client_id=client.client_id)
    try:
        key = keys.find(client, kid)
    except (JwksUnavailable, InvalidJwks) as exc:
        raise InvalidClient(
            reason=f"the client's keys are unusable ({exc.__class__.__name__})", client_id=client.client_id
        ) from None
    if key is None:
        raise InvalidClient(reason="no registered key has this kid", client_id=client.client_id)
    if alg not in algorithms_for(key):
        raise InvalidClient(reason=f"the key may not be used with alg {alg}", client_id=client.client_id)
    try:
        verified = validate_compact(signed, key, registry=_REGISTRY)
    except JoseError as exc:
        raise InvalidClient(reason=f"signature check failed: {exc.error}", client_id=client.client_id) from None
    if not verified:
        raise InvalidClient(reason=f"bad signature (alg {alg})", client_id=client.client_id)
    # Last, once everything else holds: claiming the jti of an assertion we would refuse anyway
    # would let a forger burn a legitimate client's jti values.
    if not replay_cache.claim(client.client_id, jti, float(exp + CLOCK_SKEW)):
        raise InvalidClient(reason="replayed assertion (jti seen before)", client_id=client.client_id)
    return AuthenticatedClient(client=client, key_id=kid, algorithm=alg, assertion_id=jti)


def _parse(params: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any], CompactSignature]:
    assertion_type = params.get("client_assertion_type")
    assertion = params.get("client_assertion")
    if assertion_type is None and assertion is None:
        raise InvalidClient(reason="no client authentication (client_assertion_type and client_assertion missing)")
    if assertion_type != CLIENT_ASSERTION_TYPE:
        raise InvalidClient(
            f"client_assertion_type must be {CLIENT_ASSERTION_TYPE}",
            reason="unsupported client_assertion_type",
        )
    if not assertion:
        raise InvalidClient("client_assertion is missing", reason="client_assertion missing")
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise InvalidClient("client_assertion is too long", reason=f"client_assertion of {len(assertion)} characters")
    try:
        signed = extract_compact(assertion.encode("ascii"), registry=_REGISTRY)
        claims = json_text.loads(signed.payload)
    except (JoseError, ValueError, UnicodeError):
        raise InvalidClient("client_assertion is not a signed JWT", reason="client_assertion does not parse") from None
    if not isinstance(claims, dict):
        raise InvalidClient("client_assertion is not a signed JWT", reason="client_assertion payload is not an object")
    return dict(signed.headers()), claims, signed


def _check_header(header: Mapping[str, Any]) -> str | None:
    alg = header.get("alg")
    if alg not in ASSERTION_ALGORITHMS:
        return f"the JOSE header alg is not allowed (use one of {', '.join(ASSERTION_ALGORITHMS)})"
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        return "the JOSE header has no kid"
    if "crit" in header or "b64" in header:
        return "the JOSE header uses crit or b64, which are not supported"
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES):
        return "the JOSE header typ is not a client assertion type"
    return None


def _check_claims(claims: Mapping[str, Any], params: Mapping[str, str], audience: str, now: float) -> str | None:
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 64:
        return "sub must be the client_id"
    if iss != sub:
        return "iss and sub must both be the client_id"
    form_client_id = params.get("client_id")
    if form_client_id is not None and form_client_id != sub:
        return "the client_id parameter differs from the assertion's sub"
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        return f"aud must be the token endpoint URL {audience}"
    exp = claims.get("exp")
    if exp is None:
        return "exp is missing"
    if not _is_int(exp):
        return "exp must be an integer NumericDate"
    if exp <= now:
        return "the assertion has expired"
    if exp > now + MAX_ASSERTION_LIFETIME:
        return f"exp is more than {MAX_ASSERTION_LIFETIME} seconds in the future"
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is None:
            continue
        if not _is_number(value):
            return f"{name} must be a NumericDate"
        if value > now + CLOCK_SKEW:
            return f"{name} is in the future"
    jti = claims.get("jti")
    if jti is None:
        return "jti is missing"
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        return f"jti must be a non-empty string of at most {MAX_JTI_LENGTH} characters"
    return None


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value  # not NaN
