"""``make bench``: every figure against a baseline measured in the same run, on a real server process.

    .venv/bin/python -m bench.run [--requests 400] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]

- pulls (`GET /fhir/Bundle?patient.identifier=...`, the whole hot path) at 1, 4 and 16 concurrent
  clients against `GET /bench/baseline` on the same server returning the same bytes with the same
  headers (bench/server.py); ABBA order per level, so drift on a shared machine hits both sides;
- publishes (`POST /assessments`, a new person each) against `POST /bench/baseline` with the same bodies;
- policy decisions cold and warm, in process;
- log append and verification rates against a bare insert of the same bytes and a bare read of the rows;
- resident memory of the gateway process after the load against a bare FastAPI app on uvicorn.

SQLite (a temporary file) unless --postgres names a server: then two throw-away databases are created
there and dropped afterwards. Outputs go to bench/results/ (results.json, results.md, latency.png);
the markdown table is printed too. No figure is asserted anywhere: these are measurements.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from adapters.agency_client.client import NHS_NUMBER_SYSTEM, AgencyClient, sign_dpop_proof
from bench import inprocess, report
from bench.live import ROOT, LiveGateway, free_port, rss_kib, wait_ready
from bench.load import Call, LoadResult, describe, run_load

LEVELS = (1, 4, 16)
MACHINE_NOTE = "2 cores shared with other work while measuring: compare ratios within one run, not across runs"


def valid_nhs_number(rng: random.Random) -> str:
    """A random number that passes the NHS number check digit (modulus 11)."""
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


@contextmanager
def throwaway_databases(server_url: str | None, work: Path) -> Iterator[tuple[str, str]]:
    """Two empty databases (the gateway's, the log bench's): SQLite files, or new PostgreSQL databases."""
    if server_url is None:
        yield f"sqlite:///{work / 'gateway.db'}", f"sqlite:///{work / 'log-bench.db'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    names = [f"ldg_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        urls = [make_url(server_url).set(database=n).render_as_string(hide_password=False) for n in names]
        yield urls[0], urls[1]
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def abba(first: Callable[[], LoadResult], second: Callable[[], LoadResult]) -> tuple[LoadResult, LoadResult]:
    a1, b1 = first(), second()
    b2, a2 = second(), first()
    return a1.merged(a2), b1.merged(b2)


def dpop(client: AgencyClient, token: str) -> Callable[[str, str], dict[str, str]]:
    """A fresh DPoP proof (RFC 9449) for each request of a load run, signed by the client's DPoP key."""
    return lambda method, url: {"DPoP": sign_dpop_proof(client.dpop_key, method, url, access_token=token)}


def bench_pulls(gw: LiveGateway, n: int) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    police = gw.agency_client("POL-NE")
    nhs = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())["subject"]["nhs_number"]
    first = police.search("charging", nhs)
    assert first.status == 200, f"the bench pull must be a real disclosure, got {first.status}"
    (gw.workdir / "baseline-body").write_bytes(first.raw)
    baseline_check = httpx.get(gw.base_url + "/bench/baseline")
    assert baseline_check.content == first.raw

    def pull_call() -> Call:
        token = police.token("charging")  # renewed when near expiry
        params = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"}
        return Call(
            "GET",
            gw.base_url + "/fhir/Bundle",
            {"Authorization": f"DPoP {token}"},
            params,
            per_request=dpop(police, token),
        )

    baseline_call = Call("GET", gw.base_url + "/bench/baseline")
    levels, latencies = [], {}
    for level in LEVELS:
        half = max(level, n // 2)
        base, pull = abba(
            lambda lv=level, h=half: run_load(baseline_call, lv, h),
            lambda lv=level, h=half: run_load(pull_call(), lv, h),
        )
        levels.append({"pull": describe(pull), "baseline": describe(base)})
        latencies[f"pull, {level} client(s)"] = pull.latencies
        latencies[f"baseline, {level} client(s)"] = base.latencies
        print(f"  {level:>2} clients: pull {pull.throughput:.0f}/s, baseline {base.throughput:.0f}/s", flush=True)
    return levels, latencies


def publish_bodies(count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    template = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
    bodies = []
    for i in range(count):
        document = copy.deepcopy(template)
        document["local_reference"] = f"BENCH-{seed}-{i}"
        document["subject"]["nhs_number"] = valid_nhs_number(rng)
        document["subject"].pop("pnc_id", None)
        document["subject"].pop("cro_number", None)
        bodies.append(json.dumps(document).encode())
    return bodies


def bench_publish(gw: LiveGateway, n: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    publisher = gw.agency_client("LD-NE")
    token = publisher.token("ld-service")
    headers = {"Authorization": f"DPoP {token}", "Content-Type": "application/json"}
    count = max(20, n // 4)
    publish = Call(
        "POST",
        gw.base_url + "/assessments",
        headers,
        bodies=publish_bodies(count, 1),
        per_request=dpop(publisher, token),
    )
    # The baseline gets different (equally sized) bodies: the same ones would be republished versions.
    base = Call(
        "POST",
        gw.base_url + "/bench/baseline",
        headers,
        bodies=publish_bodies(count, 2),
        per_request=dpop(publisher, token),
    )
    half = count // 2
    published, baseline = abba(lambda: run_load(publish, 1, half, warmup=0), lambda: run_load(base, 1, half))
    assert set(published.statuses) == {201}, published.statuses
    return (
        {"publish": describe(published), "baseline": describe(baseline)},
        {"publish, 1 client": published.latencies, "publish baseline, 1 client": baseline.latencies},
    )


def bare_process_rss(work: Path) -> dict[str, int]:
    port = free_port()
    log = work / "bare.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=sink,
            stderr=sink,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}/healthz", process, log)
        with httpx.Client() as http:
            for _ in range(200):
                http.get(f"http://127.0.0.1:{port}/healthz")
        return rss_kib(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="pulls per concurrency level (and as many baselines)")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL server URL to create throw-away databases on")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ldg-bench-"))
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "note": MACHINE_NOTE},
        "database": "postgresql" if args.postgres else "sqlite",
        "requests_per_level": args.requests,
    }
    try:
        with throwaway_databases(args.postgres, work) as (gateway_db, log_db):
            gw = LiveGateway(work, gateway_db)
            print("setting up (ld-gateway demo --no-serve) and starting the server...", flush=True)
            gw.setup()
            gw.start()
            try:
                print("pulls against the bare endpoint:", flush=True)
                results["pull"], latencies = bench_pulls(gw, args.requests)
                print("publishes...", flush=True)
                results["publish"], publish_latencies = bench_publish(gw, args.requests)
                latencies.update(publish_latencies)
                assert gw.process is not None
                results["memory"] = {"gateway": rss_kib(gw.process.pid), "bare": bare_process_rss(work)}
                verify = gw.cli("audit", "verify", "--json")
                results["audit_verify_after_run"] = json.loads(verify.stdout) if verify.stdout else verify.stderr
            finally:
                gw.stop()
            print("policy decisions, log append and verify (in process)...", flush=True)
            started = time.perf_counter()
            results["policy"] = inprocess.policy_figures(args.requests)
            results["log"] = inprocess.log_figures(log_db, args.requests)
            results["in_process_seconds"] = time.perf_counter() - started
        results["machine"]["load_average_at_end"] = os.getloadavg()
        paths = report.write(results, latencies, args.out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(paths["markdown"].read_text())
    print("written:", ", ".join(str(p) for p in paths.values()))
    if "png" not in paths:
        print("(no plot: install the bench extra, `pip install -e '.[bench]'`, for matplotlib)")


if __name__ == "__main__":
    main()
