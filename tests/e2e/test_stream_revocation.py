"""A revoked token or client loses its open event stream on every process (real servers, SQLite and
PostgreSQL): two ``ld-gateway serve`` processes share one database; the stream is open on one, the
revocation is made elsewhere (the command line, or ``POST /oauth2/revoke`` on the other process).

Attack: keep a ``GET /events`` stream open after the client or token is revoked, and go on hearing of
requests until the token would have expired. Held by: each stream re-checks revocation several times a
second (gateway/api/stream_revocation.py) and ends with ``event: revoked``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import ASSERTION_TYPE, sign_client_assertion, sign_dpop_proof
from tests.fixtures.events import EventStream, dpop_headers
from tests.fixtures.servers import CLI, copy_demo, demo_key, free_port, served

pytestmark = pytest.mark.e2e


@dataclass
class TwoProcesses:
    issuer: str
    other: str
    env: dict[str, str]
    clients: dict[str, str]
    data_dir: Path

    def agency(self, code: str) -> AgencyClient:
        return AgencyClient(self.issuer, self.clients[code], demo_key(self.data_dir / "demo-keys" / f"{code}.pem"))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def two_processes(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoProcesses]:
    workdir = tmp_path_factory.mktemp(f"streams-{request.param}")
    demo = copy_demo(tmp_path_factory, request.param, workdir)
    try:
        ports = free_port(), free_port()
        issuer = f"http://127.0.0.1:{ports[0]}"
        env = demo.env(issuer, GATEWAY_METRICS_ADDRESS="off")
        with served(env, [(port, workdir / f"server-{i}.log") for i, port in enumerate(ports)]):
            yield TwoProcesses(issuer, f"http://127.0.0.1:{ports[1]}", env, demo.clients, demo.data_dir)
    finally:
        demo.close()


@pytest.fixture
def open_stream(
    event_streams: Callable[[str, dict[str, str]], EventStream],
) -> Callable[[TwoProcesses, AgencyClient, str], EventStream]:
    """A stream on the second process (closed after the test); the DPoP proof names the external URL."""

    def open_on_the_other(gw: TwoProcesses, client: AgencyClient, token: str) -> EventStream:
        stream = event_streams(gw.other + "/events", dpop_headers(client, token, "GET", gw.issuer + "/events"))
        assert stream.status == 200
        return stream

    return open_on_the_other


def ended_with_revoked(stream: EventStream) -> bool:
    # A bound, not a timing claim: without the check the stream would stay open for the token's 300 s.
    stream.join(timeout=20)
    if stream.is_alive():
        return False
    kinds = []
    while not stream.events.empty():
        kinds.append(stream.events.get().get("event"))
    return kinds[-1:] == ["revoked"]


def test_a_stream_ends_when_its_token_is_revoked_on_another_process(two_processes, open_stream):
    gw = two_processes
    court = gw.agency("MC-NE")
    token = court.token("case-management")
    same_client = gw.agency("MC-NE")  # the same client, another token (and DPoP key)
    stream = open_stream(gw, court, token)
    survivor = open_stream(gw, same_client, same_client.token("case-management"))
    revoked = httpx.post(
        gw.issuer + "/oauth2/revoke",
        data={
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": sign_client_assertion(court.key, court.client_id, court.token_url),
            "token": token,
        },
        timeout=30,
    )
    assert revoked.status_code == 200, revoked.text
    assert ended_with_revoked(stream)
    assert survivor.is_alive()  # only that token's stream ended


def test_a_stream_ends_when_its_client_is_revoked_from_the_command_line(two_processes, open_stream):
    gw = two_processes
    ld = gw.agency("LD-NE")
    stream = open_stream(gw, ld, ld.token("ld-service"))
    revoke = subprocess.run(
        [CLI, "client", "revoke", ld.client_id], env=gw.env, capture_output=True, text=True, timeout=120
    )
    assert revoke.returncode == 0, revoke.stderr
    assert ended_with_revoked(stream)
    # And it cannot come back.
    again = httpx.get(
        gw.other + "/events",
        headers={"Authorization": "DPoP x", "DPoP": sign_dpop_proof(ld.dpop_key, "GET", gw.issuer + "/events")},
        timeout=30,
    )
    assert again.status_code == 401
