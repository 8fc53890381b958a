"""gateway.server.end_streams_when_stopped without a server process: a stop signal has the streams ended
on the event loop, and the handler it found (uvicorn's, in a worker) still runs, whatever the first step
does. tests/e2e/test_workers.py stops two real workers with a stream open."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

from gateway import server


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What happened, in order: ``uvicorn`` when the handler that was in place ran (as uvicorn's server
    puts its own in place in a worker before it builds the application), ``streams ended`` when the hub
    was closed. Both stop signals' handlers are put back after the test."""
    events: list[str] = []
    monkeypatch.setattr(server, "_end_streams", lambda application: lambda: events.append("streams ended"))
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def uvicorns(signum: int, frame: FrameType | None) -> None:
        events.append("uvicorn")

    for s in saved:
        signal.signal(s, uvicorns)
    yield events
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_the_streams_on_the_loop_and_runs_the_handler_it_found(seen, stop):
    async def worker() -> None:
        server.end_streams_when_stopped(object())  # type: ignore[arg-type]
        signal.raise_signal(stop)
        assert seen == ["uvicorn"]  # not ended inside the signal handler (the hub takes a lock)...
        await asyncio.sleep(0)

    asyncio.run(worker())
    assert seen == ["uvicorn", "streams ended"]  # ...but by the event loop, straight after


def test_the_handler_it_found_runs_even_when_the_ending_cannot_be_scheduled(seen, monkeypatch):
    class Refused(Exception):
        pass

    async def worker() -> None:
        server.end_streams_when_stopped(object())  # type: ignore[arg-type]

        def refuse(*args: Any) -> None:
            raise Refused("an event loop that will not take the call")

        monkeypatch.setattr(asyncio.get_running_loop(), "call_soon_threadsafe", refuse)
        with pytest.raises(Refused):
            signal.raise_signal(signal.SIGTERM)
        await asyncio.sleep(0)

    asyncio.run(worker())
    assert seen == ["uvicorn"]  # the process still stops as uvicorn stops it
