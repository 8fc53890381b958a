"""``ld-gateway serve``: the application under uvicorn, with a shutdown that does not wait on event streams.

uvicorn's graceful shutdown waits for every open response to finish before it runs the application's
lifespan shutdown, and a ``GET /events`` stream only finishes when its access token expires (up to
300 s). So the server ends the streams itself, first: each gets end-of-stream at once (its client
reconnects to another process, as the stream's ``retry`` field tells it), and the shutdown proceeds.

A serving process also caps glibc's malloc arenas (:func:`limit_malloc_arenas`) before its threads start.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import socket
from collections.abc import Callable, Sequence
from typing import Any

# Imported at start so that no request pays for them: cryptography loads its OpenSSL backend at the
# first ECDSA signature checked (a DPoP proof), anyio its asyncio backend when first used (below).
import cryptography.hazmat.backends.openssl  # noqa: F401
import uvicorn
from fastapi import FastAPI

from gateway.context import gateway_of_app

# anyio's backend is a private module: should anyio move it, the first request loads it instead, as before.
with contextlib.suppress(ImportError):
    import anyio._backends._asyncio  # noqa: F401

#: glibc's mallopt parameter for the most malloc arenas (M_ARENA_MAX in malloc.h).
_M_ARENA_MAX = -8


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Cap glibc's malloc arenas in a serving process, as ``MALLOC_ARENA_MAX=2`` would; call it before
    any thread starts.

    glibc gives threads that allocate at once their own arenas, up to eight per core, and memory freed in
    an arena is kept for that arena: the request threadpool leaves freed memory stranded in each. Under
    the GIL the threads seldom allocate in parallel, so two arenas are enough, and the bench's resident
    memory after its load fell by about 8 MiB, 127 to 119 (docs/decisions.md). An operator's own
    MALLOC_ARENA_MAX wins; elsewhere than glibc this does nothing.
    """
    if "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_ARENA_MAX, arenas)


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
