"""Rendering, headers and cookies for the IG pages (the HTTP edge, no business logic)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.ig.sessions import COOKIE_NAME, Current

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

# No inline script or style anywhere ('unsafe-inline' never), no framing, forms post only here.
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def _date(value: datetime | None) -> str:
    if value is None:
        return ""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.strftime("%d %b %Y %H:%M UTC")


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _date
    env.filters["safe_svg"] = Markup  # only for markup built by gateway.ig.charts, which escapes its inputs
    return env


class PageHeaders:
    """Every IG response (pages, errors, static files) carries the security headers; pages are not cached."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope.get("path", "").startswith(("/ig/static/", "/static/"))

        started = False

        async def with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in _OVERRIDDEN]
                headers += [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
                cache = b"public, max-age=3600" if static else b"no-store"
                headers.append((b"cache-control", cache))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, with_headers)
        except Exception as exc:
            # An error page of our own, with the headers: the server's default 500 would go out bare.
            logging.getLogger("gateway.ig").error("IG page failed", extra={"fields": {"error": type(exc).__name__}})
            if started:
                raise
            failed = HTMLResponse(_FAILED_PAGE, status_code=500)
            await failed(scope, receive, with_headers)


_FAILED_PAGE = (
    "<!doctype html><html lang=en><head><meta charset=utf-8><title>Something went wrong</title></head>"
    "<body><h1>Something went wrong</h1><p>Nothing was changed. Go back and try again.</p></body></html>"
)
_OVERRIDDEN = {k.lower().encode() for k in PAGE_HEADERS} | {b"cache-control"}


def set_session_cookie(response: Response, current: Current | None) -> None:
    if current is not None and current.token is not None:
        # No Max-Age: the browser forgets it on close; the server ends it sooner (idle and absolute limits).
        response.set_cookie(COOKIE_NAME, current.token, path="/", secure=True, httponly=True, samesite="strict")


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", secure=True, httponly=True, samesite="strict")


def html(env: Environment, template: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    return HTMLResponse(env.get_template(template).render(**context), status_code=status)
