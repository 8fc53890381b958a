"""``ld-gateway serve --workers N`` on PostgreSQL: several processes answer, one log in one order."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import load_private_key
from tests.conftest import ROOT, create_pg_database
from tests.e2e.conftest import CLI, _wait_ready, free_port


def test_serve_with_two_workers_discloses_and_logs_in_one_verified_order(tmp_path: Path) -> None:
    database_url, drop = create_pg_database()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_DATA_DIR": str(tmp_path / "var"),
        "GATEWAY_ISSUER": base_url,
        "GATEWAY_POLICY_DIR": str(ROOT / "policies"),
        "GATEWAY_SCHEMA_DIR": str(ROOT / "schemas"),
        "GATEWAY_TOKEN_RATE_PER_MINUTE": "0",
    }
    setup = subprocess.run(
        [CLI, "demo", "--no-serve", "--port", str(port)], env=env, capture_output=True, text=True, timeout=180
    )
    assert setup.returncode == 0, setup.stderr + setup.stdout
    clients = json.loads((tmp_path / "var" / "demo-keys" / "clients.json").read_text())
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [CLI, "serve", "--port", str(port), "--workers", "2"], env=env, stdout=sink, stderr=sink
        )
    try:
        _wait_ready(base_url, process, log)
        police = AgencyClient(
            base_url, clients["POL-NE"], load_private_key(tmp_path / "var" / "demo-keys" / "POL-NE.pem")
        )
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
        process.terminate()
        process.wait(timeout=30)
        drop()
