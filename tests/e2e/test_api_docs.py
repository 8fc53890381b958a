"""/docs and /redoc in a real browser (headless Chromium) with every request off the gateway blocked:
both pages render the API description from assets the gateway serves itself."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import ONLY_THE_SQLITE_SERVER
from tests.e2e.ig.conftest import chromium

pytestmark = [pytest.mark.e2e, ONLY_THE_SQLITE_SERVER]

__all__ = ["chromium"]

# Assertions about a page go through Playwright's expect, which waits for the page to get there (a
# script-rendered page fills in after load: a count or a text read at once can see it half-built).
expect = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (the dev extra)").expect
RENDERED = 30_000  # ms: a bound for a loaded machine, not a timing claim


def _open_offline(browser: Any, base_url: str, path: str) -> tuple[Any, list[str]]:
    """A page whose requests anywhere but the gateway are aborted (and recorded)."""
    gateway = urlsplit(base_url).netloc
    blocked: list[str] = []
    context = browser.new_context()

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if urlsplit(url).netloc == gateway or url.startswith(("data:", "blob:")):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()

    context.route("**/*", route)
    page = context.new_page()
    response = page.goto(base_url + path)
    # The page's own policy confines it to the gateway (ReDoc's sidebar logo is never even requested).
    assert "default-src 'self'" in response.headers["content-security-policy"]
    return page, blocked


def test_swagger_ui_renders_offline(live_gateway, chromium):
    page, blocked = _open_offline(chromium, live_gateway.base_url, "/docs")
    # Operations rendered from /openapi.json, and the security schemes.
    expect(page.locator(".opblock-summary-path", has_text="/fhir/Bundle").first).to_be_visible(timeout=RENDERED)
    expect(page.locator(".scheme-container, .auth-wrapper").first).to_be_attached(timeout=RENDERED)
    page.wait_for_load_state("networkidle", timeout=RENDERED)  # every request the page makes has been made (or blocked)
    assert blocked == []
    page.context.close()


def test_redoc_renders_offline(live_gateway, chromium):
    page, blocked = _open_offline(chromium, live_gateway.base_url, "/redoc")
    expect(page.get_by_text("/fhir/Bundle").first).to_be_visible(timeout=RENDERED)
    expect(page.locator("h1").first).to_have_text(re.compile(r"^ld-gateway"), timeout=RENDERED, use_inner_text=True)
    page.wait_for_load_state("networkidle", timeout=RENDERED)
    assert blocked == []
    page.context.close()
