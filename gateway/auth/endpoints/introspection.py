"""``POST /oauth2/introspect`` (RFC 7662): the caller authenticates with its own assertion and learns
about tokens issued to itself only; any other token reads as inactive (:mod:`gateway.auth.rfc7662`)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers

from gateway.auth.endpoints.server import NO_STORE, AuthorizationServer
from gateway.auth.errors import InvalidToken, OAuthError
from gateway.auth.rfc7662 import INACTIVE, introspection_response
from gateway.auth.rfc9068 import validate_access_token

ENDPOINT = "introspection"


def introspect(server: AuthorizationServer, params: Mapping[str, str], headers: Headers) -> Response:
    """The token's RFC 7662 description, ``{"active": false}`` for one that is not the caller's or not valid."""
    try:
        caller, presented = server.authenticate_with_token(params, headers)
    except OAuthError as exc:
        return server.refuse(exc, ENDPOINT)
    try:
        context = validate_access_token(
            presented,
            signing_key=server.signing_key,
            issuer=server.issuer,
            audience=server.audience,
            is_client_active=server.is_client_active,
            now=server.now,
            is_token_revoked=server.revocations.is_revoked,
        )
    except InvalidToken:
        return JSONResponse(INACTIVE, headers=NO_STORE)
    if context.client_id != caller.client_id:
        return JSONResponse(INACTIVE, headers=NO_STORE)
    body = introspection_response(context, issuer=server.issuer, audience=server.audience)
    return JSONResponse(body, headers=NO_STORE)
