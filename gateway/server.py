"""``ld-gateway serve``: the application under uvicorn, with a shutdown that does not wait on event streams.

uvicorn's graceful shutdown waits for every open response to finish before it runs the application's
lifespan shutdown, and a ``GET /events`` stream only finishes when its access token expires (up to
300 s). So the server ends the streams itself, first: each gets end-of-stream at once (its client
reconnects to another process, as the stream's ``retry`` field tells it), and the shutdown proceeds.
One process runs :class:`GatewayServer`; each ``--workers`` process ends its streams when it is told to
stop (:func:`end_streams_when_stopped`).

A serving process also caps glibc's malloc arenas (:func:`limit_malloc_arenas`) before its threads start.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Sequence
from types import FrameType
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

logger = logging.getLogger(__name__)

#: The signals on which uvicorn's server begins its graceful shutdown (a ``--workers`` supervisor sends
#: its workers SIGTERM; a terminal's Ctrl-C sends the whole process group SIGINT).
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

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


def _end_streams(application: FastAPI) -> Callable[[], None]:
    """What ends every event stream of ``application`` at once, and every later one (the notifier hub's
    ``close``; idempotent)."""
    return gateway_of_app(application).requests.notifier.hub.close


def end_streams_when_stopped(application: FastAPI) -> None:
    """In a ``serve --workers`` process, as its application is built: end the event streams as soon as
    the process is told to stop (SIGTERM or SIGINT), before uvicorn's graceful shutdown waits on them.

    Why a signal handler, not :class:`GatewayServer`: uvicorn's supervisor builds a plain
    ``uvicorn.Server`` in each worker and (0.55, the release in use) takes no server or target of ours
    (``Multiprocess(config, sockets)``); subclassing its private ``Process`` would tie the gateway to one
    uvicorn release (pyproject allows 0.30 on), and the documented ``timeout_graceful_shutdown`` only
    cuts the wait short by cancelling the streams (a broken connection, not end-of-stream). A stop signal
    is how the supervisor (and a terminal) tells a worker to stop, and the worker's server handles it with
    Python handlers (``signal.signal``, in the main thread) installed before it builds the application
    (``worker_app``, the factory, runs inside its ``serve``). So this handler runs first, then uvicorn's:
    it schedules the ending on the event loop (the hub takes a lock, which a signal handler must not wait
    on), and uvicorn's shutdown finds the streams finishing. uvicorn puts back the earlier handlers when
    it is done.
    tests/e2e/test_workers.py stops two workers with a stream open.
    """
    if threading.current_thread() is not threading.main_thread():
        return  # no signal handlers outside the main thread: uvicorn installs none there either
    loop = asyncio.get_running_loop()
    end = _end_streams(application)
    for stop in _STOP_SIGNALS:
        uvicorns = signal.getsignal(stop)
        if callable(uvicorns):
            signal.signal(stop, _ending_first(loop, end, uvicorns))
        else:
            logger.warning(
                "event streams will hold this process's shutdown",
                extra={"fields": {"signal": signal.Signals(stop).name, "handler": repr(uvicorns)}},
            )


def _ending_first(
    loop: asyncio.AbstractEventLoop, end: Callable[[], None], then: Callable[[int, FrameType | None], Any]
) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        try:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is left to end
                loop.call_soon_threadsafe(end)
        finally:
            then(signum, frame)  # whatever happened above, the process still stops as uvicorn stops it

    return handle


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
        before_shutdown=_end_streams(application),
    )
    server.run()
