"""JWT access tokens (RFC 9068): issuing them, and validating them on every resource request.

A token is signed by the gateway's own key (:mod:`gateway.auth.signing`) with header ``typ``
``at+jwt`` and carries:

- the RFC 9068 section 2.2 claims: ``iss`` (the issuer), ``sub`` and ``client_id`` (the client),
  ``aud``, ``iat``, ``exp`` (at most 300 seconds after ``iat``), ``jti``, and ``scope``;
- ``agency`` (the agency code), ``agency_type`` and ``purpose_of_use``: exactly one purpose;
- ``cnf`` ``{"jkt": ...}`` when the token is bound to the client's DPoP key (RFC 9449 section 6.1).

``aud`` is the gateway's FHIR base URL, ``{issuer}/fhir`` (:func:`resource_audience`), as SMART
uses the FHIR base to name the resource server. It stands for all of the gateway's protected APIs
(FHIR, assessment publication, events): they are one resource server behind one issuer.

Validation raises :class:`InvalidToken` whose ``description`` is the same for every failure and
whose ``reason`` is precise, for the disclosure log.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard

from joserfc.errors import JoseError
from joserfc.jws import JWSRegistry, extract_compact, validate_compact

from gateway import json_text
from gateway.auth._bounded import Bounded
from gateway.auth.clients import ClientRecord
from gateway.auth.errors import InvalidToken
from gateway.auth.signing import SIGNING_ALGORITHMS, TokenSigner
from gateway.auth.vocab import AgencyType, Purpose, format_scope

ACCESS_TOKEN_TYPE = "at+jwt"
MAX_ACCESS_TOKEN_TTL = 300
#: Leeway for ``iat`` slightly in the future: several gateway processes, several clocks.
CLOCK_SKEW = 30
MAX_TOKEN_LENGTH = 4096
_ACCEPTED_TYPES = frozenset({"at+jwt", "application/at+jwt"})


@dataclass(frozen=True)
class AccessContext:
    """Who is asking, for what: the validated content of an access token."""

    client_id: str
    agency_code: str
    agency_type: AgencyType
    purpose: Purpose
    token_id: str
    expires_at: datetime
    scopes: frozenset[str] = field(default_factory=frozenset)
    #: The RFC 7638 thumbprint of the DPoP key the token is bound to; None for a bearer token.
    jkt: str | None = None
    #: The network address the request came from (set by the route layer; the log records it).
    network: str | None = None

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def resource_audience(issuer: str) -> str:
    """The ``aud`` of every access token: the FHIR base URL of the gateway."""
    return issuer.rstrip("/") + "/fhir"


def issue_access_token(
    *,
    signing_key: TokenSigner,
    issuer: str,
    audience: str,
    client: ClientRecord,
    purpose: Purpose,
    scopes: Iterable[str],
    ttl: int = MAX_ACCESS_TOKEN_TTL,
    now: Callable[[], float] = time.time,
    jkt: str | None = None,
) -> tuple[str, int]:
    """Sign an access token for ``client`` and one ``purpose``; return it and its lifetime in seconds.

    ``jkt`` binds the token to a DPoP key (RFC 9449 section 6.1)."""
    expires_in = max(1, min(int(ttl), MAX_ACCESS_TOKEN_TTL))
    issued_at = int(now())
    claims = {
        "iss": issuer,
        "sub": client.client_id,
        "client_id": client.client_id,
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + expires_in,
        "jti": secrets.token_urlsafe(18),
        "agency": client.agency_code,
        "agency_type": str(client.agency_type),
        "purpose_of_use": str(purpose),
        "scope": format_scope(scopes),
    }
    if jkt is not None:
        claims["cnf"] = {"jkt": jkt}
    return signing_key.sign({"typ": ACCESS_TOKEN_TYPE}, claims), expires_in


def validate_access_token(
    token: str,
    *,
    signing_key: TokenSigner,
    issuer: str,
    audience: str,
    is_client_active: Callable[[str], bool],
    now: Callable[[], float] = time.time,
    is_token_revoked: Callable[[str], bool] | None = None,
) -> AccessContext:
    """Validate a bearer token per RFC 9068 section 4 and return who it speaks for.

    ``is_client_active`` is asked last, so a revoked client's live tokens stop working at once.
    ``is_token_revoked`` (optional) is the RFC 7009 revocation list, keyed by ``jti``.
    """
    claims = _verified(token, signing_key)
    current = now()
    # From here the claims carry our own signature, so the client they name is the one refused.
    named = claims.get("client_id")
    client_id = named if isinstance(named, str) and named and claims.get("sub") == named else None

    if claims.get("iss") != issuer:
        raise _invalid("wrong issuer", client_id)
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise _invalid("wrong audience", client_id)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_int(exp) or not _is_int(iat):
        raise _invalid("exp and iat must be integers", client_id)
    if exp <= current:
        raise _invalid(f"expired {int(current - exp)} s ago", client_id)
    if iat > current + CLOCK_SKEW:
        raise _invalid("issued in the future", client_id)
    if exp - iat > MAX_ACCESS_TOKEN_TTL:
        raise _invalid(f"lifetime {exp - iat} s exceeds {MAX_ACCESS_TOKEN_TTL} s", client_id)

    jti = claims.get("jti")
    if client_id is None:
        raise _invalid("sub and client_id missing or different")
    if not isinstance(jti, str) or not jti:
        raise _invalid("jti missing", client_id)
    agency = claims.get("agency")
    scope = claims.get("scope", "")
    try:
        agency_type = AgencyType(claims.get("agency_type", ""))
        purpose = Purpose(claims.get("purpose_of_use", ""))
    except ValueError:
        raise _invalid("unknown agency_type or purpose_of_use", client_id) from None
    if not isinstance(agency, str) or not agency or not isinstance(scope, str):
        raise _invalid("agency or scope malformed", client_id)
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    if cnf is not None and (not isinstance(jkt, str) or not jkt):
        raise _invalid("cnf without a jkt", client_id)

    if is_token_revoked is not None and is_token_revoked(jti):
        raise _invalid("token revoked (RFC 7009)", client_id)
    if not is_client_active(client_id):
        raise _invalid("client revoked or no longer registered", client_id)
    return AccessContext(
        client_id=client_id,
        agency_code=agency,
        agency_type=agency_type,
        purpose=purpose,
        token_id=jti,
        expires_at=datetime.fromtimestamp(exp, UTC),
        scopes=frozenset(scope.split()),
        jkt=jkt,
    )


def verified_claims(token: str, *, signing_key: TokenSigner) -> dict[str, Any]:
    """The claims of a token this gateway signed, whatever they say (expired, revoked...).

    For revocation, which must find the ``jti`` and ``client_id`` of a token that may no longer be
    valid. Raises :class:`InvalidToken` when the token is not one of ours.
    """
    return _verified(token, signing_key)


def _verified(token: str, signing_key: TokenSigner) -> dict[str, Any]:
    """The claims of a token whose header and signature are ours; raise otherwise."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise _invalid("malformed token")
    # A client sends the same token with every request for its lifetime (at most 300 s). These exact
    # bytes were checked before: their header and signature verified with this key object, and the
    # verdict of a signature check on the same bytes and key cannot change. So the claims are reused
    # while the kid still names that key (a rotation, or a retired key's overlap ending, makes it name
    # another or none, and the token is checked afresh or refused). Everything that can change over a
    # token's life (expiry, revocation, the client's standing) is checked by the caller every time.
    seen = _VERIFIED.get(token)
    if seen is not None:
        kid, verified_with, claims = seen
        found = signing_key.verifier(kid)
        if found is not None and found[0] is verified_with:
            return dict(claims)
    try:
        signed = extract_compact(token.encode("ascii"), registry=_EXTRACT)
    except (JoseError, ValueError, UnicodeError):
        raise _invalid("malformed token") from None
    header = signed.headers()
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
        raise _invalid("typ is not at+jwt")
    found = signing_key.verifier(header.get("kid"))
    if found is None:
        raise _invalid("kid does not name a gateway signing key in use (unknown, or retired past its overlap)")
    key, alg = found
    if header.get("alg") != alg:
        raise _invalid(f"alg is not the key's {alg}")
    if "crit" in header:
        raise _invalid("crit header not supported")
    try:
        verified = validate_compact(signed, key, registry=_registry_for(alg))
    except JoseError as exc:
        raise _invalid(f"signature check failed: {exc.error}") from None
    if not verified:
        raise _invalid("bad signature")
    try:
        claims = json_text.loads(signed.payload)
    except ValueError:
        raise _invalid("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise _invalid("payload is not a JSON object")
    _VERIFIED.put(token, (header.get("kid"), key, claims))
    return dict(claims)


#: Tokens whose signature verified, with the kid and key object that verified them, and their claims.
_VERIFIED: Bounded[str, tuple[object, object, dict[str, Any]]] = Bounded(1024)
_EXTRACT = JWSRegistry(algorithms=list(SIGNING_ALGORITHMS))
_REGISTRIES = {alg: JWSRegistry(algorithms=[alg]) for alg in SIGNING_ALGORITHMS}


def _registry_for(alg: str) -> JWSRegistry:
    """Exactly the key's algorithm (the header cannot choose another)."""
    return _REGISTRIES[alg]


def _invalid(reason: str, client_id: str | None = None) -> InvalidToken:
    return InvalidToken(reason=reason, client_id=client_id)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)
