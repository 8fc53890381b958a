"""Synchronous requests into an ASGI app through httpx's ASGITransport: no sockets, no server.

(Starlette's TestClient now warns when used with httpx, and warnings are errors here.)
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI


class AppClient:
    """``raise_app_exceptions=False`` is what a real server does: it sends whatever response the app
    managed to send, and only logs an exception the app re-raised.

    Requests run on one event loop per client, in its own thread (an anyio blocking portal), started at
    the first request: a loop and the worker threads of its thread pool for each request would cost more
    than most requests. Any thread may call the client. :meth:`close` (or leaving ``with``) stops the loop;
    a client dropped unclosed stops it when collected.
    """

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self._lock = threading.Lock()
        self._portal: BlockingPortal | None = None
        self._stop: Callable[[], None] | None = None

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # ``call`` keeps no reference to the client, so the client is never released (and its loop
        # stopped) on the loop's own thread, where stopping it would fail.
        transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=self.raise_app_exceptions)

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, url, **kwargs)

        return self._started().call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        with self._lock:
            stop, self._portal, self._stop = self._stop, None, None
        if stop is not None:
            stop()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _started(self) -> BlockingPortal:
        with self._lock:
            if self._portal is None:
                running = start_blocking_portal()
                self._portal = running.__enter__()
                # The finalizer holds the portal, never the client.
                self._stop = weakref.finalize(self, _stop_portal, running)
            return self._portal


def _stop_portal(running: AbstractContextManager[BlockingPortal]) -> None:
    running.__exit__(None, None, None)
