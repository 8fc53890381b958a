"""Headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright for Python, against a real
gateway process. Without Chromium or Playwright the browser tests skip and say why; CI installs both.

Screenshots of every page go to ``test-artifacts/ig-screenshots/`` (git-ignored), counted in the summary
(tests/fixtures/reporting.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.reporting import SCREENSHOTS

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API runs an event loop on this thread while it is open, so one
    browser serves a module's tests rather than one per test.

    Its ``expect`` waits up to 30 s (Playwright's default is 5 s) for a page to get where a test says it
    will: after a form is submitted, the next page comes from a real server that may be hashing a
    password with argon2id on a machine CI keeps busy. A bound for a loaded machine, not a timing claim:
    a page that is right passes as soon as it is."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (the dev extra)")
    sync_api.expect.set_options(timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


class Screens:
    def __init__(self) -> None:
        self.names: set[str] = set()

    def take(self, page: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.names.add(name)
        return path


@pytest.fixture(scope="session")
def screens() -> Screens:
    return Screens()
