"""``ld-gateway serve --workers N`` on PostgreSQL: several processes answer, one log in one order."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from adapters.agency_client import AgencyClient
from tests.conftest import ROOT
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
