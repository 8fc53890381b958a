"""Clients that last: the court-request watcher outlives its access tokens, and a stream resumed with
``Last-Event-ID`` is sent the events published while it was away. A real gateway whose tokens live 30 s
(the shortest the settings allow), so the watcher must renew at least once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key, sign_dpop_proof
from gateway.tour import CHILD, REQUESTS
from tests.conftest import ROOT
from tests.e2e.conftest import CLI, _wait_ready, free_port

pytestmark = pytest.mark.e2e
TOKEN_SECONDS = 30


@pytest.fixture(scope="module")
def short_tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("short-tokens")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{workdir / 'gateway.db'}",
        "GATEWAY_DATA_DIR": str(workdir / "var"),
        "GATEWAY_ISSUER": base_url,
        "GATEWAY_POLICY_DIR": str(ROOT / "policies"),
        "GATEWAY_SCHEMA_DIR": str(ROOT / "schemas"),
        "GATEWAY_TOKEN_RATE_PER_MINUTE": "0",
        "GATEWAY_ACCESS_TOKEN_TTL": str(TOKEN_SECONDS),
    }
    setup = subprocess.run([CLI, "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=180)
    assert setup.returncode == 0, setup.stderr
    log = workdir / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
    try:
        _wait_ready(base_url, process, log)
        yield {"base_url": base_url, "env": env, "keys": workdir / "var" / "demo-keys"}
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(workdir / "var" / "keys", ignore_errors=True)


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
        first = _ask(env, "01NE0000126")
        assert first in watcher.stdout.readline()
        time.sleep(TOKEN_SECONDS + 10)  # the first token has expired: only a renewed one can hear the next
        second = _ask(env, "01NE0000226")
        out, err = watcher.communicate(timeout=60)
        assert watcher.returncode == 0, err
        assert second in out and "task.created" in out
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.communicate()


def _open(client: AgencyClient, url: str, last_event_id: str | None = None) -> httpx.Response:
    token = client.token("ld-service")
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": sign_dpop_proof(client.dpop_key, "GET", url, access_token=token),
        "Accept": "text/event-stream",
    }
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


def test_a_stream_resumed_with_last_event_id_gets_what_was_missed(short_tokens):
    keys: Path = short_tokens["keys"]
    clients = json.loads((keys / "clients.json").read_text())
    ld = AgencyClient(short_tokens["base_url"], clients["LD-NE"], load_private_key(keys / "LD-NE.pem"))
    url = short_tokens["base_url"] + "/events"

    stream = _open(ld, url)
    lines = stream.iter_lines()
    assert next(lines).startswith(": subscribed")
    seen_task = _ask(short_tokens["env"], "01NE0000326")
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
