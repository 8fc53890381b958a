"""Where the witness is off, the IG integrity page and the server's start-up log say plainly that a
rollback of the log cannot be detected (and with the default witness they do not cry wolf)."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio

from gateway.audit.witness import NO_WITNESS


def test_the_integrity_page_names_the_witness(gateway, staff, browser):
    browser.sign_in("auditor")
    page = browser.get("/ig/integrity").text
    assert "Witness directory" in page and "Rollback cannot be detected" not in page


def test_with_the_witness_off_the_integrity_page_warns(gateway, staff, browser):
    gateway.settings.witness_dir = Path("off")
    browser.sign_in("auditor")
    page = browser.get("/ig/integrity").text
    assert 'id="no-witness"' in page and "Rollback cannot be detected" in page and "GATEWAY_WITNESS_DIR=off" in page


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))


def started(gateway) -> list[tuple[int, str]]:
    handler = Records()
    logger = logging.getLogger("gateway.audit")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    async def start_and_stop() -> None:
        async with gateway.app.router.lifespan_context(gateway.app):
            pass

    try:
        anyio.run(start_and_stop)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    return handler.messages


def test_the_server_start_up_log_says_when_rollback_cannot_be_detected(gateway):
    assert (logging.WARNING, NO_WITNESS) not in started(gateway)
    gateway.settings.witness_dir = Path("off")
    assert (logging.WARNING, NO_WITNESS) in started(gateway)
