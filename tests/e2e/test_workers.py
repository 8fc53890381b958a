"""``ld-gateway serve --workers N`` on PostgreSQL: several processes answer, one log in one order."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from tests.conftest import ROOT
from tests.fixtures.events import EventStream, dpop_headers
from tests.fixtures.servers import CLI, copy_demo, demo_key, free_port, served

pytestmark = pytest.mark.e2e


def test_serve_with_two_workers_discloses_and_logs_in_one_verified_order(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    demo = copy_demo(tmp_path_factory, "postgresql", tmp_path)
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = demo.env(base_url, GATEWAY_TOKEN_RATE_PER_MINUTE="0")
        with served(env, [(port, tmp_path / "server.log")], "--workers", "2") as (process,):
            key = demo_key(demo.data_dir / "demo-keys" / "POL-NE.pem")
            police = AgencyClient(base_url, demo.clients["POL-NE"], key)
            nhs = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())["subject"]["nhs_number"]
            ids = set()
            for _ in range(12):
                pulled = police.search("charging", nhs)
                assert pulled.status == 200
                ids.update(pulled.disclosure_ids)
            assert len(ids) == 12
            assert httpx.get(base_url + "/healthz").status_code == 200
            # Two worker processes under the one supervisor uvicorn started.
            children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
            assert len(children) >= 2, children
            verified = subprocess.run([CLI, "audit", "verify", "--json"], env=env, capture_output=True, text=True)
            assert verified.returncode == 0, verified.stdout + verified.stderr
    finally:
        demo.close()


def test_serve_with_two_workers_ends_open_event_streams_on_shutdown_instead_of_waiting_for_them(
    tmp_path_factory: pytest.TempPathFactory,
    tmp_path: Path,
    event_streams: Callable[[str, dict[str, str]], EventStream],
) -> None:
    """Each worker ends its streams when told to stop, as one process does (test_requests.py): an open
    stream used to hold its worker, and so the supervisor, until the stream's token expired (300 s)."""
    demo = copy_demo(tmp_path_factory, "postgresql", tmp_path)
    try:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = demo.env(base_url, GATEWAY_TOKEN_RATE_PER_MINUTE="0", GATEWAY_METRICS_ADDRESS="off")
        with served(env, [(port, tmp_path / "server.log")], "--workers", "2") as (process,):
            court = AgencyClient(base_url, demo.clients["MC-NE"], demo_key(demo.data_dir / "demo-keys" / "MC-NE.pem"))
            token = court.token("case-management")
            stream = event_streams(base_url + "/events", dpop_headers(court, token, "GET", base_url + "/events"))
            process.terminate()
            # A bound for a loaded machine, far inside the token's lifetime: not a claim about how fast.
            process.wait(timeout=30)
        stream.join(30)
        assert stream.ended, "the worker ended the stream (end of stream, not a broken connection)"
        log = (tmp_path / "server.log").read_text()
        assert log.count("Application shutdown complete") == 2, log
    finally:
        demo.close()
