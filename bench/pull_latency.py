"""Hot-path latency against a real server process, as ratios to a bare endpoint measured in the same run.

    .venv/bin/python bench/pull_latency.py [--requests 300] [--database-url URL]

Starts `ld-gateway demo --no-serve` and `ld-gateway serve` in a temporary data directory (SQLite unless
--database-url names a PostgreSQL database), then times, one client at a time:
  baseline  GET /healthz                        (same stack, no work)
  metadata  GET /fhir/metadata                  (static FHIR JSON)
  pull      GET /fhir/Bundle?patient.identifier (token check, case link, decrypt, policy, render, log append)
and, in process: one policy decision (regopy, and regorus for comparison) and one render of the projection.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.agency_client import AgencyClient  # noqa: E402
from adapters.agency_client.client import NHS_NUMBER_SYSTEM, load_private_key  # noqa: E402

CLI = str(Path(sys.executable).with_name("ld-gateway"))


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
    }


def time_calls(call: Callable[[], object], n: int) -> list[float]:
    for _ in range(min(20, n)):
        call()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http_bench(n: int, database_url: str | None) -> dict[str, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="ldg-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(work / "var"),
        "GATEWAY_DATABASE_URL": database_url or f"sqlite:///{work / 'gateway.db'}",
        "GATEWAY_ISSUER": base,
    }
    subprocess.run([CLI, "demo", "--no-serve", "--port", str(port)], env=env, check=True, capture_output=True)
    server = subprocess.Popen([CLI, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        clients = json.loads((work / "var" / "demo-keys" / "clients.json").read_text())
        police = AgencyClient(base, clients["POL-NE"], load_private_key(work / "var" / "demo-keys" / "POL-NE.pem"))
        token = police.token("charging")
        http = httpx.Client()
        auth = {"Authorization": f"Bearer {token}"}
        nhs = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())["subject"]["nhs_number"]
        params = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}
        assert http.get(base + "/fhir/Bundle", params=params, headers=auth).status_code == 200
        return {
            "baseline": percentiles(time_calls(lambda: http.get(base + "/healthz"), n)),
            "metadata": percentiles(time_calls(lambda: http.get(base + "/fhir/metadata"), n)),
            "pull": percentiles(time_calls(lambda: http.get(base + "/fhir/Bundle", params=params, headers=auth), n)),
        }
    finally:
        server.terminate()
        server.wait(timeout=15)


def in_process_bench(n: int) -> dict[str, dict[str, float]]:
    from datetime import UTC, date, datetime

    from gateway.assessments.catalogue import load_catalogue
    from gateway.disclosure.projection import project
    from gateway.fhir import DocumentMeta, document_bytes, render_document
    from gateway.policy import EmbeddedRegoEngine, RegorusEngine, build_input

    catalogue = load_catalogue(ROOT / "schemas" / "field-catalogue.json")
    content = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
    policy_input = build_input(
        agency_type="police",
        agency_code="POL-NE",
        purpose="charging",
        date_of_birth=date.fromisoformat(content["subject"]["date_of_birth"]),
        on=date(2026, 11, 20),
        consent=content["consent"],
    )
    regopy_engine = EmbeddedRegoEngine(ROOT / "policies", catalogue.ids)
    regorus_engine = RegorusEngine(ROOT / "policies", catalogue.ids)
    decision = regopy_engine.decide(policy_input)
    projection = project(content, catalogue, decision.released)
    meta = DocumentMeta(
        "8f3d90ac-7b3b-4702-9209-1c8fb9ee0286",
        "59f1c26a-00de-49b6-916c-88788ee2adc2",
        "8f3d90ac-7b3b-4702-9209-1c8fb9ee0286",
        1,
        datetime.now(UTC),
        "L&D",
        "LD-NE",
        "POL-NE",
        "police",
        "charging",
        decision.obligations,
        len(decision.withheld),
    )
    labels = {f: catalogue.get(f).labels for f in projection}
    return {
        "decide_regopy": percentiles(time_calls(lambda: regopy_engine.decide(policy_input), n)),
        "decide_regorus": percentiles(time_calls(lambda: regorus_engine.decide(policy_input), n)),
        "project_and_render": percentiles(
            time_calls(
                lambda: document_bytes(render_document(project(content, catalogue, decision.released), meta, labels)), n
            )
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    results = {**http_bench(args.requests, args.database_url), **in_process_bench(args.requests)}
    base = results["baseline"]["p50_ms"]
    print(f"{'measure':<20}{'p50 ms':>10}{'p99 ms':>10}{'p50 / baseline':>18}")
    for name, figures in results.items():
        print(f"{name:<20}{figures['p50_ms']:>10.2f}{figures['p99_ms']:>10.2f}{figures['p50_ms'] / base:>18.2f}")
    print(json.dumps({"requests": args.requests, "results": results}))


if __name__ == "__main__":
    main()
