"""Synchronous requests into an ASGI app through httpx's ASGITransport: no sockets, no server.

(Starlette's TestClient now warns when used with httpx, and warnings are errors here.)
"""

from __future__ import annotations

from typing import Any, Self

import httpx
from fastapi import FastAPI

from tests.fixtures.loop_thread import LoopThread


class AppClient:
    """``raise_app_exceptions=False`` is what a real server does: it sends whatever response the app
    managed to send, and only logs an exception the app re-raised. ``client_address`` is the peer the
    app sees (httpx's default otherwise).

    Requests run on one event loop per client, in its own thread (tests/fixtures/loop_thread.py),
    started at the first request. Any thread may call the client. :meth:`close` (or leaving ``with``)
    stops the loop; a client dropped unclosed stops it when collected.
    """

    def __init__(
        self,
        app: FastAPI,
        *,
        raise_app_exceptions: bool = True,
        base_url: str = "http://testserver",
        client_address: tuple[str, int] | None = None,
    ) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions
        self.base_url = base_url
        self.client_address = client_address
        self._loop = LoopThread()

    def transport(self) -> httpx.ASGITransport:
        if self.client_address is None:
            return httpx.ASGITransport(app=self.app, raise_app_exceptions=self.raise_app_exceptions)
        return httpx.ASGITransport(
            app=self.app, raise_app_exceptions=self.raise_app_exceptions, client=self.client_address
        )

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # ``call`` keeps no reference to the client: the loop's thread must never drop the last one.
        transport, base_url = self.transport(), self.base_url

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
                return await client.request(method, url, **kwargs)

        return self._loop.call(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
