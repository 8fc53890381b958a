"""What the authorization server's endpoints share: its collaborators, client authentication, and the
refusal path.

Every refusal, at any of the three POST endpoints, calls ``on_token_denied(client_id, error, reason)``
before the response is sent; ``reason`` is precise and is prefixed ``introspection:`` or
``revocation:`` outside the token endpoint. An exception from the callback propagates: a refusal that
could not be logged is not answered as if it had been.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fastapi.responses import JSONResponse

from gateway.auth.clients import AuthenticatedClient, ClientRecord
from gateway.auth.errors import InvalidRequest, OAuthError, SlowDown, UseDpopNonce
from gateway.auth.jwks import ClientKeys
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import RevocationList
from gateway.auth.rfc7523 import ReplayCache, authenticate_client
from gateway.auth.rfc9449 import DpopNonces
from gateway.auth.signing import TokenSigner
from gateway.config import Settings

TokenDenied = Callable[[str | None, str, str], None]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@dataclass(frozen=True)
class AuthorizationServer:
    """The collaborators of the endpoints, wired once by :func:`gateway.auth.router.build_router`.

    ``find_client`` and ``is_client_active`` read the registry; ``dpop_nonces``, when set, makes DPoP
    proofs carry a current server nonce; ``rate_limiter``, when set, limits token requests per
    authenticated client.
    """

    settings: Settings
    signing_key: TokenSigner
    on_token_denied: TokenDenied
    find_client: Callable[[str], ClientRecord | None]
    is_client_active: Callable[[str], bool]
    client_keys: ClientKeys
    replay_cache: ReplayCache
    revocations: RevocationList
    now: Callable[[], float]
    dpop_nonces: DpopNonces | None = None
    rate_limiter: RateLimiter | None = None

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @property
    def audience(self) -> str:
        return self.settings.resource_audience

    def authenticate(self, params: Mapping[str, str], headers: Mapping[str, str]) -> AuthenticatedClient:
        """The calling client, by its signed assertion (RFC 7523 section 2.2, RFC 6749 section 3.2.1)."""
        if "client_assertion" in params and ("client_secret" in params or "authorization" in headers):
            raise InvalidRequest(
                "use one client authentication method: client_assertion",
                reason="more than one client authentication method",
            )
        return authenticate_client(
            params,
            audience=self.settings.token_url,
            find_client=self.find_client,
            keys=self.client_keys,
            replay_cache=self.replay_cache,
            now=self.now,
        )

    def authenticate_with_token(
        self, params: Mapping[str, str], headers: Mapping[str, str]
    ) -> tuple[AuthenticatedClient, str]:
        """Introspection and revocation: an authenticated caller, and the token it presents (RFC 7662/7009)."""
        caller = self.authenticate(params, headers)
        presented = params.get("token")
        if not presented:
            raise InvalidRequest("token is missing", client_id=caller.client_id)
        return caller, presented

    def refuse(self, exc: OAuthError, endpoint: str | None = None) -> JSONResponse:
        """The wire error for ``exc``, logged first through ``on_token_denied`` (unless it is a protocol step)."""
        if isinstance(exc, SlowDown):
            # Logged at most once a minute per client (gateway.auth.ratelimit); always answered.
            if exc.log:
                self.on_token_denied(exc.client_id, exc.error, exc.reason)
            headers = {**NO_STORE, "Retry-After": str(exc.retry_after)}
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
        if isinstance(exc, UseDpopNonce) and self.dpop_nonces is not None:
            # RFC 9449 section 8: the client retries with this nonce; nothing was refused for good.
            headers = {**NO_STORE, "DPoP-Nonce": self.dpop_nonces.issue(self.now())}
            return JSONResponse(exc.to_dict(), status_code=exc.status, headers=headers)
        reason = exc.reason if endpoint is None else f"{endpoint}: {exc.reason}"
        self.on_token_denied(exc.client_id, exc.error, reason)
        return JSONResponse(exc.to_dict(), status_code=exc.status, headers=NO_STORE)
