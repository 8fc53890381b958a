"""Token introspection (RFC 7662) responses.

A client may introspect only tokens issued to itself: any other token, like an invalid, expired or
revoked one, is reported as ``{"active": false}`` and nothing more (section 2.2), so introspection
cannot be used to learn about other clients' tokens.
"""

from __future__ import annotations

from typing import Any

from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import format_scope

INACTIVE: dict[str, Any] = {"active": False}


def introspection_response(context: AccessContext, *, issuer: str, audience: str) -> dict[str, Any]:
    bound = {"cnf": {"jkt": context.jkt}} if context.jkt else {}
    return {
        **bound,
        "active": True,
        "token_type": "DPoP" if context.jkt else "Bearer",
        "scope": format_scope(context.scopes),
        "client_id": context.client_id,
        "sub": context.client_id,
        "iss": issuer,
        "aud": audience,
        "exp": int(context.expires_at.timestamp()),
        "jti": context.token_id,
        "agency": context.agency_code,
        "agency_type": str(context.agency_type),
        "purpose_of_use": str(context.purpose),
    }
