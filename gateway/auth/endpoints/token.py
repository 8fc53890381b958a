"""``POST /oauth2/token``: the client credentials grant with ``private_key_jwt`` (RFC 6749 section 4.4,
RFC 7523) and a required ``purpose_of_use``. Refusals are RFC 6749 section 5.2 errors.

- The client authenticates first (RFC 6749 section 3.2.1), then the grant and purpose are checked.
- ``purpose_of_use`` is required. A purpose that is unknown, or not registered for the client, is
  ``invalid_scope``: the purpose bounds what the token grants, exactly as a scope does, and
  ``unauthorized_client`` is about grant types.
- ``scope`` is optional; absent, the token gets every scope of its purpose (RFC 6749 section 3.3).
- DPoP (RFC 9449 section 5): with a ``DPoP`` header the token is bound to the proof's key
  (``cnf.jkt``, ``token_type`` ``DPoP``); a client registered with ``dpop_required`` (the default for
  new clients) gets no token without one (``invalid_dpop_proof``). When the gateway requires nonces,
  a proof without a current one gets ``use_dpop_nonce`` and a ``DPoP-Nonce`` header: that is a step
  of the protocol, not a refusal, and is not logged.
- Rate limit: per authenticated client, after authentication (an unauthenticated flood is the load
  balancer's to stop): 429 ``slow_down`` (RFC 8628's registered code) with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from gateway.auth.clients import AuthenticatedClient, ClientRecord
from gateway.auth.endpoints.server import NO_STORE, AuthorizationServer
from gateway.auth.errors import (
    InvalidDpopProof,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    SlowDown,
    UnsupportedGrantType,
    UseDpopNonce,
)
from gateway.auth.rfc9068 import issue_access_token
from gateway.auth.rfc9449 import verify_proof
from gateway.auth.vocab import PURPOSE_SCOPES, Purpose, Scope, format_scope


def token(server: AuthorizationServer, params: Mapping[str, str], headers: Headers) -> Response:
    """An access token for the authenticated client and its stated purpose, or the refusal (logged)."""
    try:
        caller = server.authenticate(params, headers)
        client_id = caller.client_id
        if server.rate_limiter is not None:
            limited = server.rate_limiter.take(client_id)
            if limited is not None:
                raise SlowDown.from_limit(limited, client_id)
        grant_type = params.get("grant_type")
        if not grant_type:
            raise InvalidRequest("grant_type is missing", client_id=client_id)
        if grant_type != "client_credentials":
            raise UnsupportedGrantType(reason="unsupported grant_type", client_id=client_id)
        purpose = requested_purpose(params, caller.client)
        scopes = requested_scopes(params, purpose, client_id)
        jkt = dpop_binding(server, caller, headers)
    except OAuthError as exc:
        return server.refuse(exc)
    access_token, expires_in = issue_access_token(
        signing_key=server.signing_key,
        issuer=server.issuer,
        audience=server.audience,
        client=caller.client,
        purpose=purpose,
        scopes=scopes,
        ttl=server.settings.access_token_ttl,
        now=server.now,
        jkt=jkt,
    )
    body = {
        "access_token": access_token,
        "token_type": "Bearer" if jkt is None else "DPoP",
        "expires_in": expires_in,
        "scope": format_scope(scopes),
        "purpose_of_use": str(purpose),
    }
    nonces = server.dpop_nonces
    fresh = {"DPoP-Nonce": nonces.issue(server.now())} if nonces is not None and jkt else {}
    return JSONResponse(body, headers={**NO_STORE, **fresh})


def dpop_binding(server: AuthorizationServer, caller: AuthenticatedClient, headers: Headers) -> str | None:
    """The ``jkt`` to bind the token to (RFC 9449 section 5), None for a bearer token."""
    proofs = headers.getlist("dpop")
    if not proofs and not caller.client.dpop_required:
        return None
    try:
        proof = verify_proof(
            proofs,
            method="POST",
            url=server.settings.token_url,
            replay_cache=server.replay_cache,
            now=server.now(),
            nonces=server.dpop_nonces,
        )
    except (InvalidDpopProof, UseDpopNonce) as exc:
        if not proofs:
            exc.reason = "the client must use DPoP and sent no proof"
        exc.client_id = caller.client_id
        raise
    return proof.jkt


def requested_purpose(params: Mapping[str, str], client: ClientRecord) -> Purpose:
    """``purpose_of_use``: required, known, and registered for the client (else ``invalid_scope``)."""
    value = params.get("purpose_of_use")
    if not value:
        raise InvalidRequest("purpose_of_use is missing", client_id=client.client_id)
    try:
        purpose = Purpose(value)
    except ValueError:
        raise InvalidScope(
            f"purpose_of_use {value[:64]!r} is not a known purpose",
            reason="unknown purpose",
            client_id=client.client_id,
        ) from None
    if purpose not in client.purposes:
        raise InvalidScope(
            f"purpose_of_use {purpose.value!r} is not registered for this client",
            reason=f"purpose {purpose.value!r} not registered for the client",
            client_id=client.client_id,
        )
    return purpose


def requested_scopes(params: Mapping[str, str], purpose: Purpose, client_id: str) -> frozenset[Scope]:
    """The scopes asked for, each within the purpose's; every scope of the purpose when none is asked."""
    allowed = PURPOSE_SCOPES[purpose]
    requested = params.get("scope", "").split()
    if not requested:
        return allowed
    unknown = [s for s in requested if s not in allowed]
    if unknown:
        raise InvalidScope(
            f"scope {unknown[0][:64]!r} is not available for purpose {purpose.value!r}",
            reason=f"scope not allowed for {purpose.value}",
            client_id=client_id,
        )
    return frozenset(Scope(s) for s in requested)
