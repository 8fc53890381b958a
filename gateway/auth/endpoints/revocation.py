"""``POST /oauth2/revoke`` (RFC 7009): the caller authenticates with its own assertion and may revoke
only tokens issued to itself."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Response
from starlette.datastructures import Headers

from gateway.auth.endpoints.server import NO_STORE, AuthorizationServer
from gateway.auth.errors import InvalidToken, OAuthError, UnauthorizedClient
from gateway.auth.rfc9068 import verified_claims

ENDPOINT = "revocation"


def revoke(server: AuthorizationServer, params: Mapping[str, str], headers: Headers) -> Response:
    """200 when the caller's token is revoked or was not valid anyway; a logged refusal otherwise."""
    try:
        caller, presented = server.authenticate_with_token(params, headers)
        try:
            claims = verified_claims(presented, signing_key=server.signing_key)
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
        return server.refuse(exc, ENDPOINT)
    jti, exp = claims.get("jti"), claims.get("exp")
    if isinstance(jti, str) and isinstance(exp, int):
        server.revocations.revoke(jti, float(exp), caller.client_id)
    return Response(status_code=200, headers=NO_STORE)
