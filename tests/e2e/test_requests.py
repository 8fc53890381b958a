"""Two real gateway processes sharing one PostgreSQL database: a court asks on one, the L&D service
listens on the other, and each side hears of the other's steps by server-sent events."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key, sign_dpop_proof
from gateway.db.engine import make_engine
from tests.conftest import ROOT, create_pg_database
from tests.e2e.conftest import CLI, _wait_ready, free_port
from tests.requests.conftest import OTHER_NHS, other_person, task_body
from tests.requests.test_tasks import accept_ops, complete_ops

pytestmark = pytest.mark.e2e


class EventStream(threading.Thread):
    """A minimal SSE reader (WHATWG event-stream format) on its own thread."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.auth_headers = url, headers
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.subscribed = threading.Event()
        self.status: int | None = None

    def run(self) -> None:
        headers = {**self.auth_headers, "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=httpx.Timeout(10, read=120)) as response:
                self.status = response.status_code
                frame: dict[str, str] = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.subscribed.set()
                    elif not line:
                        if frame:
                            self.events.put(frame)
                        frame = {}
                    else:
                        name, _, value = line.partition(":")
                        frame[name] = value.removeprefix(" ")
        except httpx.HTTPError:
            return

    def next(self, kind: str, timeout: float = 30) -> dict:
        while True:
            frame = self.events.get(timeout=timeout)
            if frame.get("event") == kind:
                return json.loads(frame["data"])


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, dict, Path]]:
    workdir = tmp_path_factory.mktemp("two")
    database_url, drop = create_pg_database()
    ports = free_port(), free_port()
    issuer = f"http://127.0.0.1:{ports[0]}"  # one external name for both, as behind a load balancer
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_DATA_DIR": str(workdir / "var"),
        "GATEWAY_ISSUER": issuer,
        "GATEWAY_POLICY_DIR": str(ROOT / "policies"),
        "GATEWAY_SCHEMA_DIR": str(ROOT / "schemas"),
    }
    setup = subprocess.run(
        [CLI, "demo", "--no-serve", "--port", str(ports[0])], env=env, capture_output=True, text=True, timeout=180
    )
    assert setup.returncode == 0, setup.stderr + setup.stdout
    clients = json.loads((workdir / "var" / "demo-keys" / "clients.json").read_text())
    processes = []
    try:
        for i, port in enumerate(ports):
            log = workdir / f"server-{i}.log"
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
                )
            _wait_ready(f"http://127.0.0.1:{port}", processes[-1], log)
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", clients, workdir / "var"
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        make_engine(database_url).dispose()
        drop()


def test_a_court_request_made_on_one_process_is_answered_through_the_other(two_gateways):
    a, b, clients, data_dir = two_gateways

    def agency(code: str) -> AgencyClient:
        # Tokens come from the issuer (process A) and are good on every process.
        return AgencyClient(a, clients[code], load_private_key(data_dir / "demo-keys" / f"{code}.pem"))

    ld, court = agency("LD-NE"), agency("MC-NE")
    published = ld.publish(other_person())
    assert published.status_code == 201, published.text
    assessment_id = published.json()["id"]

    def auth(client: AgencyClient, purpose: str, method: str, path: str) -> dict[str, str]:
        # The DPoP proof names the gateway's external URL (the issuer), whichever process serves it.
        token = client.token(purpose)
        return {
            "Authorization": f"DPoP {token}",
            "DPoP": sign_dpop_proof(client.dpop_key, method, a + path, access_token=token),
        }

    def call(base: str, client: AgencyClient, purpose: str, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**auth(client, purpose, method, path), **kwargs.pop("headers", {})}
        return httpx.request(method, base + path, headers=headers, timeout=30, **kwargs)

    ld_events = EventStream(a + "/events", auth(ld, "ld-service", "GET", "/events"))
    court_events = EventStream(b + "/events", auth(court, "case-management", "GET", "/events"))
    for stream in (ld_events, court_events):
        stream.start()
        assert stream.subscribed.wait(30), stream.status

    body = task_body(hearing=datetime.now(UTC) + timedelta(hours=2))
    created = call(b, court, "case-management", "POST", "/fhir/Task", json=body)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]

    heard = ld_events.next("task.created")
    assert heard["task"] == task_id and heard["status"] == "requested"
    assert set(heard) <= {"id", "type", "task", "status", "link", "output"}  # ids, status and links only

    patch_headers = {"Content-Type": "application/json-patch+json"}
    accepted = call(
        a, ld, "ld-service", "PATCH", f"/fhir/Task/{task_id}", content=json.dumps(accept_ops()), headers=patch_headers
    )
    assert accepted.status_code == 200, accepted.text
    assert court_events.next("task.accepted")["task"] == task_id

    completed = call(
        a,
        ld,
        "ld-service",
        "PATCH",
        f"/fhir/Task/{task_id}",
        content=json.dumps(complete_ops(assessment_id)),
        headers=patch_headers,
    )
    assert completed.status_code == 200, completed.text
    done = court_events.next("task.completed")
    assert done["output"].endswith(f"/fhir/Bundle/{assessment_id}")

    pulled = call(b, court, "case-management", "GET", f"/fhir/Bundle/{assessment_id}")
    assert pulled.status_code == 200, pulled.text
    assert pulled.headers["X-Disclosure-Id"]
    raw = json.dumps([heard, done])
    assert OTHER_NHS not in raw and "Hewitt" not in raw


def test_events_need_a_valid_token(two_gateways):
    a, *_ = two_gateways
    response = httpx.get(a + "/events", timeout=10)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"
