"""A whole gateway (the review suite's: real keys, policy, a published assessment) and a staff browser
over HTTP: an httpx client that keeps its cookies, on https:// (the session cookie is Secure).

Staff accounts made here are hashed with :data:`TEST_PASSWORDS`, which the ``staff`` fixture also puts
into the gateway's IG pages (``Ig.passwords``, the wiring's own seam): argon2id through the product's
code, at the lowest cost argon2 allows instead of 64 MiB and three passes per hash. What these tests
check (outcomes, lockout, throttling, what is logged, when the hash runs) does not depend on the cost;
the production parameters, and the rehash of a hash made with other ones, have tests of their own
(test_passwords.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from gateway.ig import accounts
from gateway.ig.context import Ig
from tests.asgi import AppClient
from tests.fixtures.gateway import Gateway

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
#: argon2id with salt and digest as in production; 8 KiB, one pass, one lane (argon2's minimum).
TEST_PASSWORDS = accounts.Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def ig_state(gateway: Gateway) -> Ig:
    """The wiring of the gateway's IG pages (the application mounted at /ig)."""
    (mount,) = [r for r in gateway.app.routes if getattr(r, "path", None) == "/ig"]
    ig = mount.app.state.ig
    assert isinstance(ig, Ig)
    return ig


class StaffBrowser(AppClient):
    """Requests into the ASGI app with a cookie jar, the way a browser on https would send them, from
    ``client_address`` when a test needs one (its own event loop, as every ``AppClient``)."""

    def __init__(
        self, app: FastAPI, base_url: str = "https://testserver", client_address: tuple[str, int] | None = None
    ) -> None:
        super().__init__(app, raise_app_exceptions=False, base_url=base_url, client_address=client_address)
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        # ``call`` keeps no reference to the browser: the loop's thread must never drop the last one.
        transport, base_url, cookies = self.transport(), self.base_url, self.cookies

        async def call() -> tuple[httpx.Response, httpx.Cookies]:
            async with httpx.AsyncClient(transport=transport, base_url=base_url, cookies=cookies) as client:
                response = await client.request(method, url, **kwargs)
                return response, httpx.Cookies(client.cookies)

        response, self.cookies = self._loop.call(call)
        return response

    def csrf(self, url: str) -> str:
        page = self.get(url)
        assert page.status_code == 200, page.text
        match = CSRF.search(page.text)
        assert match, f"no CSRF token on {url}"
        return match.group(1)

    def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        token = self.csrf("/ig/sign-in")
        return self.post("/ig/sign-in", data={"username": username, "password": password, "csrf_token": token})


def add_staff(
    sessions: sessionmaker[Session],
    username: str,
    role: str,
    password: str = PASSWORD,
    passwords: accounts.Passwords = TEST_PASSWORDS,
) -> str:
    with sessions.begin() as session:
        return accounts.add_staff(session, username, username.title(), role, password=password, passwords=passwords).id


@pytest.fixture
def passwords(gateway: Gateway) -> accounts.Passwords:
    """The gateway's IG pages check passwords with :data:`TEST_PASSWORDS` (the app is the test's own)."""
    ig_state(gateway).passwords = TEST_PASSWORDS
    return TEST_PASSWORDS


@pytest.fixture
def staff(gateway: Gateway, passwords: accounts.Passwords) -> dict[str, str]:
    return {
        "auditor": add_staff(gateway.sessions, "auditor", "ig-auditor"),
        "admin": add_staff(gateway.sessions, "admin", "ig-admin"),
    }


@pytest.fixture
def browser(gateway: Gateway) -> Iterator[StaffBrowser]:
    with StaffBrowser(gateway.app) as browser:
        yield browser
