"""/docs and /redoc in a real browser (headless Chromium) with every request off the gateway blocked:
both pages render the API description from assets the gateway serves itself."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import ONLY_THE_SQLITE_SERVER
from tests.e2e.ig.conftest import chromium

pytestmark = [pytest.mark.e2e, ONLY_THE_SQLITE_SERVER]

__all__ = ["chromium"]


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
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)  # operations rendered from /openapi.json
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/fhir/Bundle" in p for p in paths), paths
    assert page.locator(".scheme-container, .auth-wrapper").count() >= 1  # the security schemes
    assert blocked == []
    page.context.close()


def test_redoc_renders_offline(live_gateway, chromium):
    page, blocked = _open_offline(chromium, live_gateway.base_url, "/redoc")
    page.get_by_text("/fhir/Bundle").first.wait_for(timeout=30_000)
    assert page.locator("h1").first.inner_text().startswith("ld-gateway")
    assert blocked == []
    page.context.close()
