"""Clients that last: the court-request watcher outlives its access tokens, and a stream resumed with
``Last-Event-ID`` is sent the events published while it was away. A real gateway whose tokens live 30 s
(the shortest the settings allow), so the watcher must renew at least once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.court_requests import task_resource
from gateway.tour import CHILD, REQUESTS
from tests.conftest import ROOT
from tests.fixtures.events import dpop_headers
from tests.fixtures.servers import copy_demo, demo_key, free_port, served

pytestmark = pytest.mark.e2e
TOKEN_SECONDS = 30


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("short-tokens")
    demo = copy_demo(tmp_path_factory, "sqlite", workdir)
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = demo.env(base_url, GATEWAY_TOKEN_RATE_PER_MINUTE="0", GATEWAY_ACCESS_TOKEN_TTL=str(TOKEN_SECONDS))
        with served(env, [(port, workdir / "server.log")]):
            yield {"base_url": base_url, "env": env, "keys": demo.data_dir / "demo-keys"}
    finally:
        demo.close()


def _ask(env: dict[str, str], urn: str) -> str:
    argv = f"{REQUESTS} ask --agency MC-NE --nhs-number {CHILD} --case-urn {urn} --hearing-in-minutes 90".split()
    done = subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_watcher_outlives_its_token(short_tokens):
    env = short_tokens["env"]
    argv = f"{REQUESTS} watch --agency LD-NE --purpose ld-service --count 2".split()
    watcher = subprocess.Popen(
        [sys.executable, *argv[1:]], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watcher.stdout is not None and "watching" in watcher.stdout.readline()
        # The watcher's first token was issued before it said "watching", so it has expired a lifetime
        # after that line (and a second for the whole seconds in ``exp``); the server ends a stream when
        # its token expires, so from then on only a renewed token can hear the next request.
        first_token_expired = time.monotonic() + TOKEN_SECONDS + 1
        first = _ask(env, "01NE0000126")
        assert first in watcher.stdout.readline()
        time.sleep(max(0.0, first_token_expired - time.monotonic()))
        second = _ask(env, "01NE0000226")
        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert second in out and "task.created" in out
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()


def _open(client: AgencyClient, url: str, last_event_id: str | None = None) -> httpx.Response:
    headers = {**dpop_headers(client, client.token("ld-service"), "GET", url), "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    request = httpx.Request("GET", url, headers=headers)
    return httpx.Client(timeout=httpx.Timeout(10, read=30)).send(request, stream=True)


def _next_event(lines: Iterator[str]) -> dict[str, str]:
    frame: dict[str, str] = {}
    for line in lines:
        if not line:
            if "event" in frame:
                return frame
            frame = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            frame[name] = value.strip()
    raise AssertionError("the stream ended")


def _ask_here(court: AgencyClient, urn: str) -> str:
    """What ``_ask`` does, from this process: an open stream's token lives 30 s, and a command's start
    (an interpreter, its imports, a 4096-bit key) can take a good part of that on a loaded machine."""
    hearing = datetime.now(UTC) + timedelta(minutes=90)
    created = court.request(
        "POST", "/fhir/Task", "case-management", json=task_resource(CHILD, urn, hearing, "urgent", None)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_stream_resumed_with_last_event_id_gets_what_was_missed(short_tokens):
    keys: Path = short_tokens["keys"]
    clients = json.loads((keys / "clients.json").read_text())
    ld = AgencyClient(short_tokens["base_url"], clients["LD-NE"], demo_key(keys / "LD-NE.pem"))
    court = AgencyClient(short_tokens["base_url"], clients["MC-NE"], demo_key(keys / "MC-NE.pem"))
    url = short_tokens["base_url"] + "/events"

    stream = _open(ld, url)
    lines = stream.iter_lines()
    assert next(lines).startswith(": subscribed")
    seen_task = _ask_here(court, "01NE0000326")
    seen = _next_event(lines)
    assert json.loads(seen["data"])["task"] == seen_task
    stream.close()

    missed_task = _ask(short_tokens["env"], "01NE0000426")  # published while nobody listened

    resumed = _open(ld, url, last_event_id=seen["id"])
    lines = resumed.iter_lines()
    replayed = _next_event(lines)
    assert replayed["event"] == "task.created" and json.loads(replayed["data"])["task"] == missed_task
    resumed.close()

    unknown = _open(ld, url, last_event_id="an-id-this-gateway-never-sent")
    assert _next_event(unknown.iter_lines())["event"] == "replay-incomplete"
    unknown.close()
