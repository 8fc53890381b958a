"""A real gateway: the ``ld-gateway`` command sets it up, and ``ld-gateway serve`` runs it on a free port.

One per database for the whole session (setting one up takes seconds): the modules that use it add their
own agencies, clients and staff under names of their own, and read back only what they wrote.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gateway.db.engine import make_engine
from tests.conftest import ROOT, create_pg_database
from tests.fixtures.parallel import LIVE_SERVER_IDS

CLI = str(Path(sys.executable).with_name("ld-gateway"))


@dataclass
class LiveGateway:
    base_url: str
    env: dict[str, str]
    data_dir: Path
    database_url: str
    clients: dict[str, str]
    server_log: Path
    tour: str

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run([CLI, *args], env=self.env, capture_output=True, text=True, check=check, timeout=120)

    def key(self, agency_code: str) -> Path:
        return self.data_dir / "demo-keys" / f"{agency_code}.pem"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited early:\n{log.read_text()}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"gateway did not become ready:\n{log.read_text()}")


def gateway_env(database_url: str, data_dir: Path, issuer: str, **extra: str) -> dict[str, str]:
    """The environment of a real gateway process (and of the ``ld-gateway`` commands run beside it)."""
    return {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_ISSUER": issuer,
        "GATEWAY_POLICY_DIR": str(ROOT / "policies"),
        "GATEWAY_SCHEMA_DIR": str(ROOT / "schemas"),
        **extra,
    }


def set_up_demo(env: dict[str, str], port: int) -> tuple[str, dict[str, str]]:
    """``ld-gateway demo --no-serve``: its printed tour and the demo clients' ids by agency code."""
    setup = subprocess.run(
        [CLI, "demo", "--no-serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=180
    )
    assert setup.returncode == 0, setup.stderr + setup.stdout
    clients = json.loads((Path(env["GATEWAY_DATA_DIR"]) / "demo-keys" / "clients.json").read_text())
    return setup.stdout, clients


@contextmanager
def served(env: dict[str, str], servers: Sequence[tuple[int, Path]]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``ld-gateway serve`` on each (port, log file), ready before the body runs, stopped after it."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for port, log in servers:
            with log.open("wb") as sink:
                processes.append(
                    subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stdout=sink, stderr=sink)
                )
            _wait_ready(f"http://127.0.0.1:{port}", processes[-1], log)
        yield processes
    finally:
        for process in processes:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


# The ids tell xdist's controller which tests share the server (tests/fixtures/parallel.py); a module that
# parametrizes live_gateway itself (ids "sqlite", "postgresql") gets a server of its own.
@pytest.fixture(scope="session", params=["sqlite", "postgresql"], ids=LIVE_SERVER_IDS)
def live_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    workdir = tmp_path_factory.mktemp(f"live-{request.param}")
    drop = None
    if request.param == "sqlite":
        database_url = f"sqlite:///{workdir / 'gateway.db'}"
    else:
        database_url, drop = create_pg_database()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    # Many tests share the demo clients within a minute; rate limits have their own tests (test_matrix).
    env = gateway_env(database_url, workdir / "var", base_url, GATEWAY_TOKEN_RATE_PER_MINUTE="0")
    tour, clients = set_up_demo(env, port)
    log = workdir / "server.log"
    try:
        with served(env, [(port, log)]):
            yield LiveGateway(base_url, env, workdir / "var", database_url, clients, log, tour)
    finally:
        make_engine(database_url).dispose()
        if drop:
            drop()
        shutil.rmtree(workdir / "var" / "keys", ignore_errors=True)
