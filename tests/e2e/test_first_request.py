"""A serving process imports everything its pull path needs when it starts: the first pull after start
(token, search, read) loads no module, so it costs what every later one does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from adapters.agency_client import AgencyClient
from tests.conftest import ROOT
from tests.fixtures.servers import copy_demo, demo_key, free_port

pytestmark = pytest.mark.e2e

ADULT = "9449305552"

# The application as `ld-gateway serve` builds and serves it; once it listens, it notes what is loaded,
# and when told that the pulls are done, prints what was loaded since.
SERVER = """
import json, sys, threading, time
from gateway.app import create_app
from gateway.server import GatewayServer, config

application = create_app()
server = GatewayServer(config(application, "127.0.0.1", int(sys.argv[1])), before_shutdown=lambda: None)
threading.Thread(target=server.run, daemon=True).start()
while not server.started:
    time.sleep(0.02)
loaded = set(sys.modules)
print("ready", flush=True)
sys.stdin.readline()
print(json.dumps(sorted(set(sys.modules) - loaded)), flush=True)
server.should_exit = True
"""


def test_the_first_pull_after_start_imports_nothing(tmp_path_factory):
    demo = copy_demo(tmp_path_factory, "sqlite", tmp_path_factory.mktemp("first-request"))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        cwd=ROOT,
        env=demo.env(base_url),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        assert server.stdout.readline().strip() == "ready"
        police = AgencyClient(base_url, demo.clients["POL-NE"], demo_key(demo.data_dir / "demo-keys" / "POL-NE.pem"))
        found = police.search("custody", ADULT)
        assert found.status == 200 and found.disclosure_ids
        bundle_id = found.body["entry"][0]["resource"]["id"]
        assert police.read("custody", bundle_id).status == 200
        server.stdin.write("done\n")
        server.stdin.flush()
        loaded_by_the_pulls = json.loads(server.stdout.readline())
        assert loaded_by_the_pulls == []
    finally:
        server.kill()
        server.wait(timeout=30)
        demo.close()
