"""For the resource routes: getting the bearer token out of a request (RFC 6750 section 2.1).

The routes then call :func:`gateway.auth.rfc9068.validate_access_token`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth import registry
from gateway.auth.errors import InvalidToken
from gateway.db import unit_of_work

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def bearer_token(request: Request) -> str:
    """The token of the request's one ``Authorization: Bearer`` header; :class:`InvalidToken` otherwise.

    Tokens in the query string (RFC 6750 section 2.3) are refused: URLs end up in logs.
    """
    scheme, token = access_token(request)
    if scheme != "bearer":
        raise InvalidToken(reason="Authorization scheme is not Bearer", token_present=False)
    return token


def access_token(request: Request) -> tuple[str, str]:
    """The scheme (``bearer`` or ``dpop``, RFC 9449 section 7.1) and token of the one ``Authorization``
    header; :class:`InvalidToken` otherwise. Tokens in the query string are refused."""
    if "access_token" in request.query_params:
        raise InvalidToken(reason="access token sent in the query string")
    values = request.headers.getlist("authorization")
    if not values:
        raise InvalidToken(reason="no Authorization header", token_present=False)
    if len(values) > 1:
        raise InvalidToken(reason="more than one Authorization header")
    scheme, _, token = values[0].strip().partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop"):
        raise InvalidToken(reason="Authorization scheme is neither Bearer nor DPoP", token_present=False)
    token = token.strip()
    if not _B64TOKEN.fullmatch(token):
        raise InvalidToken(reason=f"malformed {scheme} token")
    return scheme, token


def client_activity(session_factory: sessionmaker[Session]) -> Callable[[str], bool]:
    """An ``is_client_active`` for :func:`validate_access_token`, one short read per call."""

    def is_client_active(client_id: str) -> bool:
        return unit_of_work.read(session_factory, lambda tx: registry.is_client_active(tx, client_id))

    return is_client_active
