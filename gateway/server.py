"""``ld-gateway serve``: the application under uvicorn, with a shutdown that does not wait on event streams.

uvicorn's graceful shutdown waits for every open response to finish before it runs the application's
lifespan shutdown, and a ``GET /events`` stream only finishes when its access token expires (up to
300 s). So the server ends the streams itself, first: each gets end-of-stream at once (its client
reconnects to another process, as the stream's ``retry`` field tells it), and the shutdown proceeds.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

import uvicorn
from fastapi import FastAPI

from gateway.context import gateway_of_app


class GatewayServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, *, before_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._before_shutdown = before_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._before_shutdown()
        await super().shutdown(sockets)


def options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """uvicorn's options, for one process and for ``--workers`` alike.

    uvicorn's access log prints query strings, and a search's query string holds an NHS number: it stays
    off, and gateway.app_logging logs requests without them. Forwarding headers are believed only from
    ``trusted_proxies`` (GATEWAY_FORWARDED_ALLOW_IPS), given explicitly so that uvicorn's own default
    (127.0.0.1 and ::1, or its FORWARDED_ALLOW_IPS variable) never decides what address the log records.
    """
    return {
        "log_level": "info",
        "access_log": False,
        "proxy_headers": bool(trusted_proxies),
        "forwarded_allow_ips": list(trusted_proxies),
    }


def config(application: FastAPI, host: str, port: int, trusted_proxies: Sequence[str] = ()) -> uvicorn.Config:
    return uvicorn.Config(application, host=host, port=port, **options(trusted_proxies))


def run(application: FastAPI, host: str, port: int, trusted_proxies: Sequence[str] = ()) -> None:
    server = GatewayServer(
        config(application, host, port, trusted_proxies),
        before_shutdown=gateway_of_app(application).requests.notifier.hub.close,
    )
    server.run()
