"""Two real gateway processes sharing one PostgreSQL database: a court asks on one, the L&D service
listens on the other, and each side hears of the other's steps by server-sent events."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from tests.court_requests.conftest import other_person, task_body
from tests.court_requests.test_tasks import accept_ops, complete_ops
from tests.fixtures.events import dpop_headers
from tests.fixtures.servers import copy_demo, demo_key, free_port, served

pytestmark = pytest.mark.e2e

TWO_PROCESS_NHS = "9434765927"  # valid check digit; nobody else on record has it


@pytest.fixture(scope="module")
def two_gateways(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str, dict, Path, list[subprocess.Popen[bytes]]]]:
    workdir = tmp_path_factory.mktemp("two")
    demo = copy_demo(tmp_path_factory, "postgresql", workdir)
    try:
        ports = free_port(), free_port()
        issuer = f"http://127.0.0.1:{ports[0]}"  # one external name for both, as behind a load balancer
        env = demo.env(issuer)
        with served(env, [(port, workdir / f"server-{i}.log") for i, port in enumerate(ports)]) as processes:
            yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}", demo.clients, demo.data_dir, processes
    finally:
        demo.close()


def _agency(issuer: str, clients: dict, data_dir: Path, code: str) -> AgencyClient:
    # Tokens come from the issuer (process A) and are good on every process.
    return AgencyClient(issuer, clients[code], demo_key(data_dir / "demo-keys" / f"{code}.pem"))


def _auth(issuer: str, client: AgencyClient, purpose: str, method: str, path: str) -> dict[str, str]:
    # The DPoP proof names the gateway's external URL (the issuer), whichever process serves it.
    return dpop_headers(client, client.token(purpose), method, issuer + path)


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
