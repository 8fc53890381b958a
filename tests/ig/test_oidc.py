"""OIDC sign-in through Authlib's Starlette client, against a stand-in provider on a real socket."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from gateway.ig import accounts
from gateway.ig.mount import build_ig_app
from gateway.ig.settings import IgSettings
from tests.ig.conftest import StaffBrowser
from tests.ig.oidc_provider import StandInProvider
from tests.ig.test_http import staff_events


@pytest.fixture
def provider():
    with StandInProvider("ld-gateway-ig", "provider secret", subject="staff-4711") as running:
        yield running


def _app(gateway, provider: StandInProvider) -> FastAPI:
    settings = IgSettings(
        oidc_issuer=provider.issuer,
        oidc_client_id=provider.client_id,
        oidc_client_secret=provider.client_secret,
        oidc_label="Northshire NHS account",
    )
    app = FastAPI()
    app.mount("/ig", build_ig_app(gateway.app.state.gateway, settings))
    return app


def _through_provider(browser: StaffBrowser) -> httpx.Response:
    start = browser.get("/ig/oidc/start")
    assert start.status_code == 302, start.text
    authorize = start.headers["location"]
    assert "code_challenge_method=S256" in authorize and "state=" in authorize and "nonce=" in authorize
    back = httpx.get(authorize)  # the provider approves and sends the browser back
    assert back.status_code == 302
    callback = httpx.URL(back.headers["location"])
    assert callback.path == "/ig/oidc/callback"
    return browser.get(f"{callback.path}?{callback.query.decode()}")


def test_a_registered_staff_member_signs_in_through_the_provider(gateway, provider):
    with gateway.sessions.begin() as session:
        staff_id = accounts.add_staff(
            session, "olly", "Olly", "ig-auditor", oidc_subject=f"{provider.issuer}|staff-4711"
        ).id
    browser = StaffBrowser(_app(gateway, provider))
    assert "Sign in with Northshire NHS account" in browser.get("/ig/sign-in").text
    signed_in = _through_provider(browser)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ig/"
    assert "Signed in as <strong>Olly</strong>" in browser.get("/ig/").text
    (event,) = staff_events(gateway, "ig:staff:signin")
    assert event["client_id"] == f"staff:{staff_id}" and event["reason"] == "oidc"


def test_an_identity_without_a_staff_account_is_refused(gateway, provider):
    browser = StaffBrowser(_app(gateway, provider))
    refused = _through_provider(browser)
    assert refused.status_code == 401 and "no access" in refused.text
    assert browser.get("/ig/").status_code == 303
    assert [e["reason"] for e in staff_events(gateway, "ig:staff:signin-failed")] == ["oidc:no-account"]


def test_a_callback_with_a_forged_state_is_refused(gateway, provider):
    with gateway.sessions.begin() as session:
        accounts.add_staff(session, "olly", "Olly", "ig-auditor", oidc_subject=f"{provider.issuer}|staff-4711")
    browser = StaffBrowser(_app(gateway, provider))
    start = browser.get("/ig/oidc/start")
    back = httpx.get(start.headers["location"])
    callback = httpx.URL(back.headers["location"])
    forged = callback.copy_set_param("state", "forged")
    refused = browser.get(f"{forged.path}?{forged.query.decode()}")
    assert refused.status_code == 401
    assert browser.get("/ig/").status_code == 303
    assert [e["reason"] for e in staff_events(gateway, "ig:staff:signin-failed")] == ["oidc:no-token"]
