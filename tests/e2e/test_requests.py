"""Two real gateway processes sharing one PostgreSQL database: a court asks on one, the L&D service
listens on the other, and each side hears of the other's steps by server-sent events."""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key, sign_dpop_proof
from gateway.db.engine import make_engine
from tests.conftest import create_pg_database
from tests.court_requests.conftest import other_person, task_body
from tests.court_requests.test_tasks import accept_ops, complete_ops
from tests.e2e.conftest import free_port, gateway_env, served, set_up_demo

pytestmark = pytest.mark.e2e

TWO_PROCESS_NHS = "9434765927"  # valid check digit; nobody else on record has it


class EventStream(threading.Thread):
    """A minimal SSE reader (WHATWG event-stream format) on its own thread."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.url, self.auth_headers = url, headers
        self.events: queue.Queue[dict[str, str]] = queue.Queue()
        self.subscribed = threading.Event()
        self.status: int | None = None
        self.ended = False  # the server ended the stream (rather than an error or our close)
        self._socket: socket.socket | None = None

    def run(self) -> None:
        headers = {**self.auth_headers, "Accept": "text/event-stream"}
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=httpx.Timeout(10, read=120)) as response:
                self.status = response.status_code
                self._socket = response.extensions["network_stream"].get_extra_info("socket")
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
                self.ended = True
        except httpx.HTTPError:
            return

    def close(self) -> None:
        """Hang up (a socket shutdown wakes the reading thread; closing it alone would not)."""
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
        self.join(10)

    def next(self, kind: str, timeout: float = 30) -> dict:
        while True:
            frame = self.events.get(timeout=timeout)
            if frame.get("event") == kind:
                return json.loads(frame["data"])


@pytest.fixture
def event_streams() -> Iterator[Callable[[str, dict[str, str]], EventStream]]:
    """Open a subscribed event stream; every stream opened is closed after the test."""
    opened: list[EventStream] = []

    def open_stream(url: str, headers: dict[str, str]) -> EventStream:
        stream = EventStream(url, headers)
        opened.append(stream)
        stream.start()
        assert stream.subscribed.wait(30), stream.status
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


@pytest.fixture(scope="module")
def two_gateways(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, dict, Path, list[subprocess.Popen[bytes]]]]:
    workdir = tmp_path_factory.mktemp("two")
    database_url, drop = create_pg_database()
    ports = free_port(), free_port()
    issuer = f"http://127.0.0.1:{ports[0]}"  # one external name for both, as behind a load balancer
    env = gateway_env(database_url, workdir / "var", issuer)
    _, clients = set_up_demo(env, ports[0])
    try:
        with served(env, [(port, workdir / f"server-{i}.log") for i, port in enumerate(ports)]) as processes:
            yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", clients, workdir / "var", processes
    finally:
        make_engine(database_url).dispose()
        drop()


def _agency(issuer: str, clients: dict, data_dir: Path, code: str) -> AgencyClient:
    # Tokens come from the issuer (process A) and are good on every process.
    return AgencyClient(issuer, clients[code], load_private_key(data_dir / "demo-keys" / f"{code}.pem"))


def _auth(issuer: str, client: AgencyClient, purpose: str, method: str, path: str) -> dict[str, str]:
    # The DPoP proof names the gateway's external URL (the issuer), whichever process serves it.
    token = client.token(purpose)
    return {
        "Authorization": f"DPoP {token}",
        "DPoP": sign_dpop_proof(client.dpop_key, method, issuer + path, access_token=token),
    }


def test_a_court_request_made_on_one_process_is_answered_through_the_other(two_gateways, event_streams):
    a, b, clients, data_dir, _ = two_gateways
    ld, court = _agency(a, clients, data_dir, "LD-NE"), _agency(a, clients, data_dir, "MC-NE")
    # The demo's child already has the requests suite's OTHER_NHS: publishing someone else under it would
    # (rightly) be an identity conflict, so this person has an NHS number of their own.
    person = other_person()
    person["subject"]["nhs_number"] = TWO_PROCESS_NHS
    published = ld.publish(person)
    assert published.status_code == 201, published.text
    assessment_id = published.json()["id"]

    def auth(client: AgencyClient, purpose: str, method: str, path: str) -> dict[str, str]:
        return _auth(a, client, purpose, method, path)

    def call(base: str, client: AgencyClient, purpose: str, method: str, path: str, **kwargs) -> httpx.Response:
        headers = {**auth(client, purpose, method, path), **kwargs.pop("headers", {})}
        return httpx.request(method, base + path, headers=headers, timeout=30, **kwargs)

    ld_events = event_streams(a + "/events", auth(ld, "ld-service", "GET", "/events"))
    court_events = event_streams(b + "/events", auth(court, "case-management", "GET", "/events"))

    body = task_body(nhs=TWO_PROCESS_NHS, hearing=datetime.now(UTC) + timedelta(hours=2))
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
    assert TWO_PROCESS_NHS not in raw and "Hewitt" not in raw


def test_events_need_a_valid_token(two_gateways):
    a, *_ = two_gateways
    response = httpx.get(a + "/events", timeout=10)
    assert response.status_code == 401
    assert response.json()["resourceType"] == "OperationOutcome"


def test_shutdown_ends_open_event_streams_instead_of_waiting_for_them(two_gateways, event_streams):
    """Last in this module: it stops process B. An open stream used to hold a stopping server until the
    stream's token expired (300 s); now the server ends the stream and exits by itself."""
    a, b, clients, data_dir, processes = two_gateways
    court = _agency(a, clients, data_dir, "MC-NE")
    stream = event_streams(b + "/events", _auth(a, court, "case-management", "GET", "/events"))
    processes[1].terminate()
    processes[1].wait(timeout=60)  # well inside the token's lifetime
    log = (data_dir.parent / "server-1.log").read_text()
    # uvicorn re-raises the SIGTERM it handled once it is done, so the exit status is the signal's.
    assert "Application shutdown complete" in log, log
    stream.join(30)
    assert stream.ended, "the server ended the stream (end of stream, not a broken connection)"
