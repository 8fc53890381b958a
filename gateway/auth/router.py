"""The authorization server's HTTP endpoints.

- ``POST /oauth2/token``: client credentials with ``private_key_jwt`` (RFC 6749 section 4.4,
  RFC 7523) and a required ``purpose_of_use``. Refusals are RFC 6749 section 5.2 errors.
- ``POST /oauth2/introspect`` (RFC 7662) and ``POST /oauth2/revoke`` (RFC 7009): the caller
  authenticates with its own assertion and may act only on tokens issued to itself.
- ``GET /.well-known/jwks.json``, ``/.well-known/oauth-authorization-server`` (RFC 8414) and
  ``/.well-known/smart-configuration`` (SMART App Launch 2, backend services).

Choices at the token endpoint:

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

Every refusal, at any of the three POST endpoints, calls ``on_token_denied(client_id, error,
reason)`` before the response is sent; ``reason`` is precise and is prefixed ``introspection:`` or
``revocation:`` outside the token endpoint. An exception from the callback propagates: a refusal
that could not be logged is not answered as if it had been.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from gateway.auth import registry
from gateway.auth.clients import AuthenticatedClient, ClientRecord
from gateway.auth.errors import (
    InvalidDpopProof,
    InvalidRequest,
    InvalidScope,
    InvalidToken,
    OAuthError,
    SlowDown,
    UnauthorizedClient,
    UnsupportedGrantType,
    UseDpopNonce,
)
from gateway.auth.jwks import DEFAULT_ASSERTION_ALGORITHMS, ClientKeys, RegisteredKeys
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import InMemoryRevocationList, RevocationList
from gateway.auth.rfc7523 import InMemoryReplayCache, ReplayCache, authenticate_client
from gateway.auth.rfc7662 import INACTIVE, introspection_response
from gateway.auth.rfc9068 import issue_access_token, validate_access_token, verified_claims
from gateway.auth.rfc9449 import PROOF_ALGORITHMS, DpopNonces, verify_proof
from gateway.auth.signing import TokenSigner
from gateway.auth.vocab import PURPOSE_SCOPES, Purpose, Scope, format_scope
from gateway.config import Settings

TokenDenied = Callable[[str | None, str, str], None]

MAX_FORM_BYTES = 16_384
MAX_FORM_FIELDS = 32
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
PUBLIC_METADATA = {"Cache-Control": "public, max-age=300"}
# Short: after a rotation, verifiers elsewhere must learn the new key before its tokens reach them.
JWKS_CACHE = {"Cache-Control": "public, max-age=60"}
_FORM_TYPE = "application/x-www-form-urlencoded"


def build_router(
    *,
    settings: Settings,
    session_factory: sessionmaker[Session],
    signing_key: TokenSigner,
    on_token_denied: TokenDenied,
    replay_cache: ReplayCache | None = None,
    revocations: RevocationList | None = None,
    client_keys: ClientKeys | None = None,
    is_client_active: Callable[[str], bool] | None = None,
    dpop_nonces: DpopNonces | None = None,
    rate_limiter: RateLimiter | None = None,
    now: Callable[[], float] = time.time,
) -> APIRouter:
    """The authorization server's routes.

    ``replay_cache`` and ``revocations`` default to in-process stores (for tests); the app passes
    the database-backed ones of :mod:`gateway.auth.store`, and the same ``revocations`` to
    :func:`validate_access_token` on the resource routes. ``is_client_active`` defaults to one
    database read per call. With ``dpop_nonces``, DPoP proofs must carry a current server nonce.
    ``rate_limiter`` limits token requests per authenticated client (429 ``slow_down``).
    """
    replay_cache = replay_cache if replay_cache is not None else InMemoryReplayCache(now)
    revocations = revocations if revocations is not None else InMemoryRevocationList(now)
    client_keys = client_keys if client_keys is not None else RegisteredKeys()
    issuer = settings.issuer
    audience = settings.resource_audience
    router = APIRouter(tags=["authorization"])

    def find_client(client_id: str) -> ClientRecord | None:
        with session_factory() as session:
            return registry.load_client_record(session, client_id)

    def read_client_active(client_id: str) -> bool:
        with session_factory() as session:
            return registry.is_client_active(session, client_id)

    client_active = is_client_active or read_client_active

    def authenticate(params: Mapping[str, str], request_headers: Mapping[str, str]) -> AuthenticatedClient:
        if "client_assertion" in params and ("client_secret" in params or "authorization" in request_headers):
            raise InvalidRequest(
                "use one client authentication method: client_assertion",
                reason="more than one client authentication method",
            )
        return authenticate_client(
            params,
            audience=settings.token_url,
            find_client=find_client,
            keys=client_keys,
            replay_cache=replay_cache,
            now=now,
        )

    def authenticate_with_token(
        params: Mapping[str, str], request_headers: Mapping[str, str]
    ) -> tuple[AuthenticatedClient, str]:
        """Introspection and revocation: an authenticated caller, and the token it presents (RFC 7662/7009)."""
        caller = authenticate(params, request_headers)
        presented = params.get("token")
        if not presented:
            raise InvalidRequest("token is missing", client_id=caller.client_id)
        return caller, presented

    def refuse(exc: OAuthError, endpoint: str | None = None) -> Response:
        if isinstance(exc, SlowDown):
            # Logged at most once a minute per client (gateway.auth.ratelimit); always answered.
            if exc.log:
                on_token_denied(exc.client_id, exc.error, exc.reason)
            headers = {**NO_STORE, "Retry-After": str(exc.retry_after)}
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
        if isinstance(exc, UseDpopNonce) and dpop_nonces is not None:
            # RFC 9449 section 8: the client retries with this nonce; nothing was refused for good.
            headers = {**NO_STORE, "DPoP-Nonce": dpop_nonces.issue(now())}
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
        reason = exc.reason if endpoint is None else f"{endpoint}: {exc.reason}"
        on_token_denied(exc.client_id, exc.error, reason)
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=NO_STORE)

    def dpop_binding(caller: AuthenticatedClient, headers: Headers) -> str | None:
        """The ``jkt`` to bind the token to (RFC 9449 section 5), None for a bearer token."""
        proofs = headers.getlist("dpop")
        if not proofs and not caller.client.dpop_required:
            return None
        try:
            proof = verify_proof(
                proofs,
                method="POST",
                url=settings.token_url,
                replay_cache=replay_cache,
                now=now(),
                nonces=dpop_nonces,
            )
        except (InvalidDpopProof, UseDpopNonce) as exc:
            if not proofs:
                exc.reason = "the client must use DPoP and sent no proof"
            exc.client_id = caller.client_id
            raise
        return proof.jkt

    def token(params: Mapping[str, str], headers: Headers) -> Response:
        try:
            caller = authenticate(params, headers)
            client_id = caller.client_id
            if rate_limiter is not None:
                limited = rate_limiter.take(client_id)
                if limited is not None:
                    raise SlowDown.from_limit(limited, client_id)
            grant_type = params.get("grant_type")
            if not grant_type:
                raise InvalidRequest("grant_type is missing", client_id=client_id)
            if grant_type != "client_credentials":
                raise UnsupportedGrantType(reason="unsupported grant_type", client_id=client_id)
            purpose = _purpose(params, caller.client)
            scopes = _scopes(params, purpose, client_id)
            jkt = dpop_binding(caller, headers)
        except OAuthError as exc:
            return refuse(exc)
        access_token, expires_in = issue_access_token(
            signing_key=signing_key,
            issuer=issuer,
            audience=audience,
            client=caller.client,
            purpose=purpose,
            scopes=scopes,
            ttl=settings.access_token_ttl,
            now=now,
            jkt=jkt,
        )
        body = {
            "access_token": access_token,
            "token_type": "Bearer" if jkt is None else "DPoP",
            "expires_in": expires_in,
            "scope": format_scope(scopes),
            "purpose_of_use": str(purpose),
        }
        fresh = {"DPoP-Nonce": dpop_nonces.issue(now())} if dpop_nonces is not None and jkt else {}
        return JSONResponse(body, headers={**NO_STORE, **fresh})

    def introspect(params: Mapping[str, str], headers: Headers) -> Response:
        try:
            caller, presented = authenticate_with_token(params, headers)
        except OAuthError as exc:
            return refuse(exc, "introspection")
        try:
            context = validate_access_token(
                presented,
                signing_key=signing_key,
                issuer=issuer,
                audience=audience,
                is_client_active=client_active,
                now=now,
                is_token_revoked=revocations.is_revoked,
            )
        except InvalidToken:
            return JSONResponse(INACTIVE, headers=NO_STORE)
        if context.client_id != caller.client_id:
            return JSONResponse(INACTIVE, headers=NO_STORE)
        return JSONResponse(introspection_response(context, issuer=issuer, audience=audience), headers=NO_STORE)

    def revoke(params: Mapping[str, str], headers: Headers) -> Response:
        try:
            caller, presented = authenticate_with_token(params, headers)
            try:
                claims = verified_claims(presented, signing_key=signing_key)
            except InvalidToken:
                # RFC 7009 section 2.2: a token that is not (or no longer) valid is not an error.
                return Response(status_code=200, headers=NO_STORE)
            if claims.get("client_id") != caller.client_id:
                raise UnauthorizedClient(
                    "the token was not issued to this client",
                    reason="tried to revoke another client's token",
                    client_id=caller.client_id,
                )
        except OAuthError as exc:
            return refuse(exc, "revocation")
        jti, exp = claims.get("jti"), claims.get("exp")
        if isinstance(jti, str) and isinstance(exp, int):
            revocations.revoke(jti, float(exp), caller.client_id)
        return Response(status_code=200, headers=NO_STORE)

    def form_endpoint(
        handler: Callable[[Mapping[str, str], Headers], Response], endpoint: str | None
    ) -> Callable[[Request], Any]:
        async def endpoint_function(request: Request) -> Response:
            try:
                params = await read_form(request)
            except OAuthError as exc:
                return await run_in_threadpool(refuse, exc, endpoint)
            return await run_in_threadpool(handler, params, request.headers)

        return endpoint_function

    router.add_api_route(
        "/oauth2/token",
        form_endpoint(token, None),
        methods=["POST"],
        summary="Client credentials grant with a signed JWT (RFC 6749, RFC 7523)",
    )
    router.add_api_route(
        "/oauth2/introspect",
        form_endpoint(introspect, "introspection"),
        methods=["POST"],
        summary="Token introspection (RFC 7662)",
    )
    router.add_api_route(
        "/oauth2/revoke", form_endpoint(revoke, "revocation"), methods=["POST"], summary="Token revocation (RFC 7009)"
    )

    server_metadata = authorization_server_metadata(settings)
    smart = smart_configuration(settings)

    @router.get("/.well-known/jwks.json", summary="The keys that sign access tokens")
    def jwks_endpoint() -> Response:
        # Read per request: a rotation publishes the new key and keeps the old one through its overlap.
        return JSONResponse(signing_key.public_jwks(), headers=JWKS_CACHE)

    @router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
    def metadata_endpoint() -> Response:
        return JSONResponse(server_metadata, headers=PUBLIC_METADATA)

    @router.get("/.well-known/smart-configuration", summary="SMART App Launch 2 configuration")
    def smart_endpoint() -> Response:
        return JSONResponse(smart, headers=PUBLIC_METADATA)

    return router


def authorization_server_metadata(settings: Settings) -> dict[str, Any]:
    """RFC 8414 section 2. There is no authorization endpoint, so no response types.

    The signing algorithms advertised are those a client is registered with by default: a client that
    reads the metadata and picks one is accepted. Others (RS256, "Ed25519") need a registration that
    names them, so advertising them would invite a refusal."""
    base = settings.issuer.rstrip("/")
    auth = {
        "auth_methods_supported": ["private_key_jwt"],
        "auth_signing_alg_values_supported": list(DEFAULT_ASSERTION_ALGORITHMS),
    }
    return {
        "issuer": settings.issuer,
        "token_endpoint": settings.token_url,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "scopes_supported": [s.value for s in Scope],
        **{f"token_endpoint_{k}": v for k, v in auth.items()},
        "introspection_endpoint": f"{base}/oauth2/introspect",
        **{f"introspection_endpoint_{k}": v for k, v in auth.items()},
        "revocation_endpoint": f"{base}/oauth2/revoke",
        **{f"revocation_endpoint_{k}": v for k, v in auth.items()},
        "purposes_of_use_supported": [p.value for p in Purpose],
        "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
    }


def smart_configuration(settings: Settings) -> dict[str, Any]:
    """SMART App Launch 2, section "Backend Services": the fields a backend client needs, plus the
    RFC 9449 section 5.1 member that tells it tokens are bound with DPoP proofs."""
    base = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": settings.token_url,
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": list(DEFAULT_ASSERTION_ALGORITHMS),
        "scopes_supported": [s.value for s in Scope],
        "capabilities": ["client-confidential-asymmetric"],
        "dpop_signing_alg_values_supported": list(PROOF_ALGORITHMS),
        "introspection_endpoint": f"{base}/oauth2/introspect",
        "revocation_endpoint": f"{base}/oauth2/revoke",
    }


async def read_form(request: Request) -> dict[str, str]:
    """The request's ``application/x-www-form-urlencoded`` body as a dict (RFC 6749 appendix B).

    A parameter given twice is ``invalid_request`` (RFC 6749 section 3.2).
    """
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != _FORM_TYPE:
        raise InvalidRequest(f"the body must be {_FORM_TYPE}", reason="wrong content type")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_FORM_BYTES:
            raise InvalidRequest("the request body is too large", reason=f"body over {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(
            bytes(body).decode("ascii"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
            encoding="utf-8",
            errors="strict",
        )
    except ValueError:
        raise InvalidRequest("the form body does not parse", reason="form body does not parse") from None
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequest(f"parameter {name[:64]!r} appears more than once", reason="repeated parameter")
        params[name] = value
    return params


def _purpose(params: Mapping[str, str], client: ClientRecord) -> Purpose:
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


def _scopes(params: Mapping[str, str], purpose: Purpose, client_id: str) -> frozenset[Scope]:
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
