"""A real gateway: the ``ld-gateway`` command sets it up, and ``ld-gateway serve`` runs it on a free port
(tests/fixtures/servers.py: each server gets its own copy of a demo set up once per run).

One per database for the whole session: the modules that use it add their own agencies, clients and
staff under names of their own, and read back only what they wrote. A module that must see a server
nobody else has touched (it counts what the whole log holds) asks for ``own_live_gateway`` instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess, run

import httpx
import pytest

from adapters.agency_client import AgencyClient
from tests.fixtures.events import event_streams
from tests.fixtures.parallel import LIVE_SERVER_IDS
from tests.fixtures.servers import CLI, copy_demo, demo_key, free_port, served

__all__ = ["LiveGateway", "event_streams", "live_gateway", "own_live_gateway"]


@dataclass
class LiveGateway:
    base_url: str
    env: dict[str, str]
    data_dir: Path
    database_url: str
    clients: dict[str, str]
    server_log: Path
    tour: str
    http: httpx.Client  # one connection pool (and one CA bundle loaded) for the tests' own requests

    def cli(self, *args: str, check: bool = True) -> CompletedProcess[str]:
        return run([CLI, *args], env=self.env, capture_output=True, text=True, check=check, timeout=120)

    def key(self, agency_code: str) -> Path:
        return self.data_dir / "demo-keys" / f"{agency_code}.pem"

    def agency(self, agency_code: str) -> AgencyClient:
        """The demo agency's client (a DPoP key of its own), on the shared connection pool."""
        return AgencyClient(self.base_url, self.clients[agency_code], demo_key(self.key(agency_code)), http=self.http)


@contextmanager
def _live_gateway(tmp_path_factory: pytest.TempPathFactory, kind: str) -> Iterator[LiveGateway]:
    workdir = tmp_path_factory.mktemp(f"live-{kind}")
    demo = copy_demo(tmp_path_factory, kind, workdir)
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        # Many tests share the demo clients within a minute; rate limits have their own tests (test_matrix).
        env = demo.env(base_url, GATEWAY_TOKEN_RATE_PER_MINUTE="0")
        tour = demo.tour(env, port)
        log = workdir / "server.log"
        with served(env, [(port, log)]), httpx.Client(timeout=30) as http:
            yield LiveGateway(base_url, env, demo.data_dir, demo.database_url, demo.clients, log, tour, http)
    finally:
        demo.close()


# The ids tell xdist's controller which tests share the server (tests/fixtures/parallel.py). A module
# that wants the SQLite one only parametrizes it: ``[pytest.param("sqlite", id="live-sqlite")]``,
# indirect, at session scope (so that it is this very server, not one of its own).
@pytest.fixture(scope="session", params=["sqlite", "postgresql"], ids=LIVE_SERVER_IDS)
def live_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    with _live_gateway(tmp_path_factory, request.param) as gateway:
        yield gateway


@pytest.fixture(scope="module")
def own_live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """A SQLite server of the module's own: nothing but the demo and what the module does is on it."""
    with _live_gateway(tmp_path_factory, "sqlite") as gateway:
        yield gateway


ONLY_THE_SQLITE_SERVER = pytest.mark.parametrize(
    "live_gateway", [pytest.param("sqlite", id=LIVE_SERVER_IDS[0])], indirect=True, scope="session"
)
