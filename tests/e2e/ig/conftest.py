"""Headless Chromium (Debian's, at /usr/bin/chromium) driven by Playwright for Python, against a real
gateway process. Without Chromium or Playwright the browser tests skip and say why; CI installs both.

Screenshots of every page go to ``test-artifacts/ig-screenshots/`` (git-ignored), named in the summary.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

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
SCREENSHOTS = ROOT / "test-artifacts" / "ig-screenshots"
_taken: list[Path] = []


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _taken:
        terminalreporter.write_line(f"IG page screenshots ({len(_taken)}): {SCREENSHOTS}")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Debian's Chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need Playwright (the dev extra)")
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
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
        _taken.append(path)
        return path


@pytest.fixture(scope="session")
def screens() -> Screens:
    return Screens()
