"""The authorization server: agencies and their OAuth clients, client authentication by signed JWT
(RFC 7523), JWT access tokens (RFC 9068), and their validation on resource requests.

Modules: ``vocab`` (agency types, purposes, scopes), ``errors``, ``registry`` (registration service
functions), ``jwks`` (client public keys), ``signing`` (the gateway's token-signing key),
``rfc7523``, ``rfc9068``, ``rfc7662``, ``rfc7009``, ``endpoints`` (one module per HTTP endpoint),
``router`` (mounts them) and ``dependencies``.
"""

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
