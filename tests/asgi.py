"""Synchronous requests into an ASGI app through httpx's ASGITransport: no sockets, no server.

(Starlette's TestClient now warns when used with httpx, and warnings are errors here.)
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from fastapi import FastAPI


class AppClient:
    """``raise_app_exceptions=False`` is what a real server does: it sends whatever response the app
    managed to send, and only logs an exception the app re-raised."""

    def __init__(self, app: FastAPI, *, raise_app_exceptions: bool = True) -> None:
        self.app = app
        self.raise_app_exceptions = raise_app_exceptions

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=self.raise_app_exceptions)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, url, **kwargs)

        return anyio.run(call)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)
