"""Application logs: one JSON object per line, on stderr.

They carry no personal data: requests are logged by method, route template (never the path or the
query string, where an NHS number can stand), status and duration; errors by type, never by message.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response

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
    logger = logging.getLogger("gateway.http")

    @app.middleware("http")
    async def _log(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = getattr(request.scope.get("route"), "path", "unmatched")
        method = request.method if request.method in _METHODS else "other"
        elapsed = time.perf_counter() - started
        REQUEST_SECONDS.labels(route, method, str(response.status_code)).observe(elapsed)
        fields = {
            "method": method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
        }
        logger.info("request", extra={"fields": fields})
        return response
