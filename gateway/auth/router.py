"""The authorization server's routes: :func:`build_router` wires the endpoints of
:mod:`gateway.auth.endpoints` to their collaborators and mounts them.

- ``POST /oauth2/token`` (:mod:`~gateway.auth.endpoints.token`);
- ``POST /oauth2/introspect`` (RFC 7662, :mod:`~gateway.auth.endpoints.introspection`) and
  ``POST /oauth2/revoke`` (RFC 7009, :mod:`~gateway.auth.endpoints.revocation`);
- ``GET /.well-known/jwks.json``, ``/.well-known/oauth-authorization-server`` (RFC 8414) and
  ``/.well-known/smart-configuration`` (:mod:`~gateway.auth.endpoints.discovery`).

Every refusal, at any of the three POST endpoints (an unreadable form included), goes through
:meth:`~gateway.auth.endpoints.server.AuthorizationServer.refuse`, which calls ``on_token_denied``
before the response is sent.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from functools import partial

from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers

from gateway.auth import registry
from gateway.auth.clients import ClientRecord
from gateway.auth.endpoints import discovery
from gateway.auth.endpoints.forms import read_form
from gateway.auth.endpoints.introspection import introspect
from gateway.auth.endpoints.revocation import revoke
from gateway.auth.endpoints.server import AuthorizationServer, TokenDenied
from gateway.auth.endpoints.token import token
from gateway.auth.errors import OAuthError
from gateway.auth.jwks import ClientKeys, RegisteredKeys
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc7009 import InMemoryRevocationList, RevocationList
from gateway.auth.rfc7523 import InMemoryReplayCache, ReplayCache
from gateway.auth.rfc9449 import DpopNonces
from gateway.auth.signing import TokenSigner
from gateway.config import Settings
from gateway.db import unit_of_work

__all__ = ["build_router", "read_form"]

FormHandler = Callable[[AuthorizationServer, Mapping[str, str], Headers], Response]


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
    :func:`~gateway.auth.rfc9068.validate_access_token` on the resource routes. ``is_client_active``
    defaults to one database read per call. With ``dpop_nonces``, DPoP proofs must carry a current
    server nonce. ``rate_limiter`` limits token requests per authenticated client (429 ``slow_down``).
    """
    server = AuthorizationServer(
        settings=settings,
        signing_key=signing_key,
        on_token_denied=on_token_denied,
        find_client=partial(_find_client, session_factory),
        is_client_active=is_client_active or partial(_read_client_active, session_factory),
        client_keys=client_keys if client_keys is not None else RegisteredKeys(),
        replay_cache=replay_cache if replay_cache is not None else InMemoryReplayCache(now),
        revocations=revocations if revocations is not None else InMemoryRevocationList(now),
        now=now,
        dpop_nonces=dpop_nonces,
        rate_limiter=rate_limiter,
    )
    router = APIRouter(tags=["authorization"])
    router.add_api_route(
        "/oauth2/token",
        _form_endpoint(server, token, None),
        methods=["POST"],
        summary="Client credentials grant with a signed JWT (RFC 6749, RFC 7523)",
    )
    router.add_api_route(
        "/oauth2/introspect",
        _form_endpoint(server, introspect, "introspection"),
        methods=["POST"],
        summary="Token introspection (RFC 7662)",
    )
    router.add_api_route(
        "/oauth2/revoke",
        _form_endpoint(server, revoke, "revocation"),
        methods=["POST"],
        summary="Token revocation (RFC 7009)",
    )

    server_metadata = discovery.authorization_server_metadata(settings)
    smart = discovery.smart_configuration(settings)

    @router.get("/.well-known/jwks.json", summary="The keys that sign access tokens")
    def jwks_endpoint() -> Response:
        return discovery.jwks(signing_key)

    @router.get("/.well-known/oauth-authorization-server", summary="RFC 8414 metadata")
    def metadata_endpoint() -> Response:
        return discovery.metadata_response(server_metadata)

    @router.get("/.well-known/smart-configuration", summary="SMART App Launch 2 configuration")
    def smart_endpoint() -> Response:
        return discovery.metadata_response(smart)

    return router


# Reads: on SQLite a token request neither waits for nor holds the write lock that every pull takes.
def _find_client(session_factory: sessionmaker[Session], client_id: str) -> ClientRecord | None:
    return unit_of_work.read(session_factory, lambda tx: registry.load_client_record(tx, client_id))


def _read_client_active(session_factory: sessionmaker[Session], client_id: str) -> bool:
    return unit_of_work.read(session_factory, lambda tx: registry.is_client_active(tx, client_id))


def _form_endpoint(
    server: AuthorizationServer, handler: FormHandler, endpoint: str | None
) -> Callable[[Request], Awaitable[Response]]:
    """An async route that reads the form and runs the (blocking) handler in the thread pool."""

    async def endpoint_function(request: Request) -> Response:
        try:
            params = await read_form(request)
        except OAuthError as exc:
            return await run_in_threadpool(server.refuse, exc, endpoint)
        return await run_in_threadpool(handler, server, params, request.headers)

    return endpoint_function
