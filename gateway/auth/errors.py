"""Errors of the authorization server, each with a stable code.

    AuthError
    ├── RegistrationError           administration (CLI, demo): bad input or state; ``code`` is stable
    │   ├── InvalidAgencyCode       invalid_agency_code
    │   ├── InvalidAgencyName       invalid_agency_name
    │   ├── InvalidAgencyType       invalid_agency_type
    │   ├── InvalidOdsCode          invalid_ods_code
    │   ├── DuplicateAgency         duplicate_agency
    │   ├── UnknownAgency           unknown_agency
    │   ├── InvalidPurpose          invalid_purpose
    │   ├── InvalidJwks             invalid_jwks
    │   ├── UnknownClient           unknown_client
    │   └── KeyFileError            key_file
    └── OAuthError                  on the wire: ``error`` is the RFC code, ``status`` the HTTP status
        ├── InvalidRequest          invalid_request           400  RFC 6749 section 5.2
        ├── InvalidClient           invalid_client            401
        ├── InvalidGrant            invalid_grant             400
        ├── UnauthorizedClient      unauthorized_client       400
        ├── UnsupportedGrantType    unsupported_grant_type    400
        ├── InvalidScope            invalid_scope             400
        ├── InvalidToken            invalid_token             401  RFC 6750 section 3.1
        ├── InsufficientScope       insufficient_scope        403
        ├── InvalidDpopProof        invalid_dpop_proof        400  RFC 9449 sections 5 and 7.1 (401 on resources)
        ├── UseDpopNonce            use_dpop_nonce            400  RFC 9449 section 8 (401 on resources)
        └── SlowDown                slow_down                 429  rate limit (RFC 8628's registered code)

An :class:`OAuthError` has two texts. ``description`` goes to the caller (``error_description``) and
never says which cryptographic or registry check failed. ``reason`` is the precise cause, for the
disclosure log only. ``client_id`` names the client the refusal is about when one is known: after
authentication, the client; for ``invalid_client``, the *claimed* client, and only when that names a
registered client, so the log never records an attacker-chosen string as a client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from gateway.auth.ratelimit import Limited


class AuthError(Exception):
    """Base of every error raised by :mod:`gateway.auth`."""


class RegistrationError(AuthError):
    code: ClassVar[str] = "registration_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidAgencyCode(RegistrationError):
    code = "invalid_agency_code"


class InvalidAgencyName(RegistrationError):
    code = "invalid_agency_name"


class InvalidAgencyType(RegistrationError):
    code = "invalid_agency_type"


class InvalidOdsCode(RegistrationError):
    code = "invalid_ods_code"


class DuplicateAgency(RegistrationError):
    code = "duplicate_agency"


class UnknownAgency(RegistrationError):
    code = "unknown_agency"


class InvalidPurpose(RegistrationError):
    code = "invalid_purpose"


class InvalidJwks(RegistrationError):
    code = "invalid_jwks"


class UnknownClient(RegistrationError):
    code = "unknown_client"


class KeyFileError(RegistrationError):
    code = "key_file"


class OAuthError(AuthError):
    def __init__(
        self,
        error: str,
        description: str,
        status: int,
        *,
        reason: str | None = None,
        client_id: str | None = None,
    ) -> None:
        super().__init__(f"{error}: {reason or description}")
        self.error = error
        self.description = description
        self.status = status
        self.reason = reason or description
        self.client_id = client_id

    def to_dict(self) -> dict[str, str]:
        """The RFC 6749 section 5.2 error response body."""
        return {"error": self.error, "error_description": self.description}


class _WireError(OAuthError):
    error_code: ClassVar[str]
    status_code: ClassVar[int]
    default_description: ClassVar[str]

    def __init__(
        self, description: str | None = None, *, reason: str | None = None, client_id: str | None = None
    ) -> None:
        super().__init__(
            self.error_code,
            description or self.default_description,
            self.status_code,
            reason=reason,
            client_id=client_id,
        )


class InvalidRequest(_WireError):
    error_code = "invalid_request"
    status_code = 400
    default_description = "The request is missing a parameter or is malformed."


class InvalidClient(_WireError):
    error_code = "invalid_client"
    status_code = 401
    default_description = "Client authentication failed."


class InvalidGrant(_WireError):
    error_code = "invalid_grant"
    status_code = 400
    default_description = "The grant is invalid."


class UnauthorizedClient(_WireError):
    error_code = "unauthorized_client"
    status_code = 400
    default_description = "The client is not authorized for this request."


class UnsupportedGrantType(_WireError):
    error_code = "unsupported_grant_type"
    status_code = 400
    default_description = "Only the client_credentials grant is supported."


class InvalidScope(_WireError):
    error_code = "invalid_scope"
    status_code = 400
    default_description = "The requested purpose or scope is not available to this client."


class InvalidToken(_WireError):
    """RFC 6750 section 3.1. ``token_present`` is False when the request carried no token at all:
    section 3.1 then wants a challenge without an error code."""

    error_code = "invalid_token"
    status_code = 401
    default_description = "The access token is invalid or expired."

    def __init__(
        self,
        description: str | None = None,
        *,
        reason: str | None = None,
        client_id: str | None = None,
        token_present: bool = True,
    ) -> None:
        super().__init__(description, reason=reason, client_id=client_id)
        self.token_present = token_present

    @property
    def www_authenticate(self) -> str:
        if not self.token_present:
            return 'Bearer realm="ld-gateway"'
        return f'Bearer realm="ld-gateway", error="invalid_token", error_description="{self.description}"'


class InsufficientScope(_WireError):
    error_code = "insufficient_scope"
    status_code = 403
    default_description = "The access token does not allow this request."

    @property
    def www_authenticate(self) -> str:
        return f'Bearer realm="ld-gateway", error="insufficient_scope", error_description="{self.description}"'


class InvalidDpopProof(_WireError):
    """RFC 9449: the DPoP proof is missing (where one is required), malformed, or does not fit the request."""

    error_code = "invalid_dpop_proof"
    status_code = 400
    default_description = "The DPoP proof is missing or invalid."


class UseDpopNonce(_WireError):
    """RFC 9449 section 8: retry with the nonce in the ``DPoP-Nonce`` response header."""

    error_code = "use_dpop_nonce"
    status_code = 400
    default_description = "Authorization server requires nonce in DPoP proof."


class SlowDown(_WireError):
    """Too many requests from this client; ``retry_after`` says when to try again (seconds)."""

    error_code = "slow_down"
    status_code = 429
    default_description = "Too many requests; retry after the number of seconds in Retry-After."

    def __init__(
        self, retry_after: int, *, reason: str | None = None, client_id: str | None = None, log: bool = True
    ) -> None:
        super().__init__(reason=reason, client_id=client_id)
        self.retry_after = max(1, int(retry_after))
        self.log = log

    @classmethod
    def from_limit(cls, limited: Limited, client_id: str) -> SlowDown:
        unlogged = f" ({limited.unlogged} more refused since the last entry)" if limited.unlogged else ""
        return cls(limited.retry_after, reason=f"rate limited{unlogged}", client_id=client_id, log=limited.log)
