"""The authorization server: agencies and their OAuth clients, client authentication by signed JWT
(RFC 7523), JWT access tokens (RFC 9068), and their validation on resource requests.

Modules: ``vocab`` (agency types, purposes, scopes), ``errors``, ``registry`` (registration service
functions), ``jwks`` (client public keys), ``signing`` (the gateway's token-signing key),
``rfc7523``, ``rfc9068``, ``rfc7662``, ``rfc7009``, ``endpoints`` (one module per HTTP endpoint),
``router`` (mounts them) and ``dependencies``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from gateway.auth.clients import AuthenticatedClient, ClientRecord
    from gateway.auth.errors import (
        AuthError,
        InsufficientScope,
        InvalidClient,
        InvalidGrant,
        InvalidRequest,
        InvalidScope,
        InvalidToken,
        OAuthError,
        RegistrationError,
        UnauthorizedClient,
        UnsupportedGrantType,
    )
    from gateway.auth.rfc7009 import InMemoryRevocationList, RevocationList
    from gateway.auth.rfc7523 import CLIENT_ASSERTION_TYPE, InMemoryReplayCache, ReplayCache
    from gateway.auth.rfc9068 import AccessContext, issue_access_token, resource_audience, validate_access_token
    from gateway.auth.signing import SigningKey, load_or_create_signing_key
    from gateway.auth.vocab import AgencyType, Purpose, Scope

# The names below are loaded on first use, not with the package: every `ld-gateway` command loads
# gateway.auth.cli, and so this package, while only a few of them need the authorization server.
_HOMES: dict[str, str] = {
    "AccessContext": "gateway.auth.rfc9068",
    "AgencyType": "gateway.auth.vocab",
    "AuthError": "gateway.auth.errors",
    "AuthenticatedClient": "gateway.auth.clients",
    "CLIENT_ASSERTION_TYPE": "gateway.auth.rfc7523",
    "ClientRecord": "gateway.auth.clients",
    "InMemoryReplayCache": "gateway.auth.rfc7523",
    "InMemoryRevocationList": "gateway.auth.rfc7009",
    "InsufficientScope": "gateway.auth.errors",
    "InvalidClient": "gateway.auth.errors",
    "InvalidGrant": "gateway.auth.errors",
    "InvalidRequest": "gateway.auth.errors",
    "InvalidScope": "gateway.auth.errors",
    "InvalidToken": "gateway.auth.errors",
    "OAuthError": "gateway.auth.errors",
    "Purpose": "gateway.auth.vocab",
    "RegistrationError": "gateway.auth.errors",
    "ReplayCache": "gateway.auth.rfc7523",
    "RevocationList": "gateway.auth.rfc7009",
    "Scope": "gateway.auth.vocab",
    "SigningKey": "gateway.auth.signing",
    "UnauthorizedClient": "gateway.auth.errors",
    "UnsupportedGrantType": "gateway.auth.errors",
    "issue_access_token": "gateway.auth.rfc9068",
    "load_or_create_signing_key": "gateway.auth.signing",
    "resource_audience": "gateway.auth.rfc9068",
    "validate_access_token": "gateway.auth.rfc9068",
}


__getattr__ = lazy_exports(globals(), _HOMES)


__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "AccessContext",
    "AgencyType",
    "AuthError",
    "AuthenticatedClient",
    "ClientRecord",
    "InMemoryReplayCache",
    "InMemoryRevocationList",
    "InsufficientScope",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "OAuthError",
    "Purpose",
    "RegistrationError",
    "ReplayCache",
    "RevocationList",
    "Scope",
    "SigningKey",
    "UnauthorizedClient",
    "UnsupportedGrantType",
    "issue_access_token",
    "load_or_create_signing_key",
    "resource_audience",
    "validate_access_token",
]
