"""Application logs: one JSON object per line, on stderr.

They carry no personal data: requests are logged by method, route template (never the path or the
query string, where an NHS number can stand), status and duration; errors by type, never by message.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics import REQUEST_SECONDS


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        return json.dumps(data)


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("gateway")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def install_request_logging(app: FastAPI) -> None:
    """Log and time every request by its route template (``/fhir/Bundle/{bundle_id}``), never its path:
    a path can carry an identifier. Anything else a caller controls is mapped onto a fixed set."""
    app.add_middleware(RequestLogging)


class RequestLogging:
    """Pure ASGI (no per-request Request/Response wrapping): the status is read from the response start,
    the route template from the scope the router filled in, the time until the response is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.logger = logging.getLogger("gateway.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in _METHODS else "other"
            elapsed = time.perf_counter() - started
            REQUEST_SECONDS.labels(route, method, str(status)).observe(elapsed)
            fields = {"method": method, "route": route, "status": status, "duration_ms": round(elapsed * 1000, 2)}
            self.logger.info("request", extra={"fields": fields})
