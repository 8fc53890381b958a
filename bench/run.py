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
from dataclasses import dataclass
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


@dataclass
class Measured:
    """One load run and what the server spent on it: CPU time (from /proc) and SQL, per request sent."""

    result: LoadResult
    cpu_s: float
    statements: int
    commits: int

    def merged(self, other: Measured) -> Measured:
        return Measured(
            self.result.merged(other.result),
            self.cpu_s + other.cpu_s,
            self.statements + other.statements,
            self.commits + other.commits,
        )

    def figures(self) -> dict[str, Any]:
        sent = max(1, self.result.sent)
        return {
            **describe(self.result),
            "cpu_ms_per_request": self.cpu_s * 1000 / sent,
            "statements_per_request": self.statements / sent,
            "commits_per_request": self.commits / sent,
        }


def measured(gw: LiveGateway, run: Callable[[], LoadResult]) -> Measured:
    before, cpu = gw.counters(), gw.cpu()
    result = run()
    cpu_s = gw.cpu() - cpu
    after = gw.counters()
    return Measured(
        result,
        cpu_s,
        int(after["statements"] or 0) - int(before["statements"] or 0),
        int(after["commits"] or 0) - int(before["commits"] or 0),
    )


def abba(first: Callable[[], Measured], second: Callable[[], Measured]) -> tuple[Measured, Measured]:
    a1, b1 = first(), second()
    b2, a2 = second(), first()
    return a1.merged(a2), b1.merged(b2)


def dpop(client: AgencyClient, token: str) -> Callable[[str, str], dict[str, str]]:
    """A fresh DPoP proof (RFC 9449) for each request of a load run, signed by the client's DPoP key."""
    return lambda method, url: {"DPoP": sign_dpop_proof(client.dpop_key, method, url, access_token=token)}


def bench_pulls(gw: LiveGateway, n: int) -> tuple[list[dict[str, Any]], dict[str, list[float]], dict[str, Any]]:
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
    cache_before = gw.counters()
    for level in LEVELS:
        half = max(level, n // 2)
        base, pull = abba(
            lambda lv=level, h=half: measured(gw, lambda: run_load(baseline_call, lv, h)),
            lambda lv=level, h=half: measured(gw, lambda: run_load(pull_call(), lv, h)),
        )
        assert set(pull.result.statuses) == {200}, pull.result.statuses
        levels.append({"pull": pull.figures(), "baseline": base.figures()})
        latencies[f"pull, {level} client(s)"] = pull.result.latencies
        latencies[f"baseline, {level} client(s)"] = base.result.latencies
        print(
            f"  {level:>2} clients: pull {pull.result.throughput:.0f}/s, baseline {base.result.throughput:.0f}/s",
            flush=True,
        )
    cache_after = gw.counters()
    hits = int(cache_after["policy_cache_hits"] or 0) - int(cache_before["policy_cache_hits"] or 0)
    misses = int(cache_after["policy_cache_misses"] or 0) - int(cache_before["policy_cache_misses"] or 0)
    cache = {
        "enabled": cache_after["policy_cache_hits"] is not None,
        "hits": hits,
        "misses": misses,
        "hit_rate": hits / (hits + misses) if hits + misses else None,
    }
    return levels, latencies, cache


def publish_bodies(count: int, seed: int, shared: int = 10) -> list[bytes]:
    """``count`` new people; their police and court case references are shared (co-defendants), each one
    by about ``count / shared`` people, and the probation CRN is each person's own."""
    rng = random.Random(seed)
    template = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
    bodies = []
    for i in range(count):
        document = copy.deepcopy(template)
        document["local_reference"] = f"BENCH-{seed}-{i}"
        document["subject"]["nhs_number"] = valid_nhs_number(rng)
        document["subject"].pop("pnc_id", None)
        document["subject"].pop("cro_number", None)
        document["case_links"] = [
            {"agency_code": "POL-NE", "case_reference": f"01NE9{seed:02d}{i % shared:04d}"},
            {"agency_code": "MC-NE", "case_reference": f"30{seed:02d}{(i * 7) % shared:06d}"},
            {"agency_code": "PROB-NE", "case_reference": f"B{seed:02d}{i:05d}"},
        ]
        bodies.append(json.dumps(document).encode())
    return bodies


def _publish_call(gw: LiveGateway, bodies: list[bytes], url: str) -> Call:
    publisher = gw.agency_client("LD-NE")
    token = publisher.token("ld-service")
    headers = {"Authorization": f"DPoP {token}", "Content-Type": "application/json"}
    return Call("POST", url, headers, bodies=bodies, per_request=dpop(publisher, token))


def bench_publish(gw: LiveGateway, n: int) -> tuple[dict[str, Any], dict[str, list[float]]]:
    """Publishes (a new person each) against the baseline POST, ABBA; every body is sent once."""
    count = max(20, n // 4)
    half = count // 2
    # Four disjoint sets of bodies: a body sent twice would be a republish (200, nothing new), not a publish.
    sets = [publish_bodies(half, seed) for seed in (1, 2, 3, 4)]
    calls = iter(sets)

    def publish() -> Measured:
        call = _publish_call(gw, next(calls), gw.base_url + "/assessments")
        return measured(gw, lambda: run_load(call, 1, half, warmup=0))

    def base() -> Measured:
        call = _publish_call(gw, next(calls), gw.base_url + "/bench/baseline")
        return measured(gw, lambda: run_load(call, 1, half, warmup=0))

    published, baseline = abba(publish, base)
    assert set(published.result.statuses) == {201}, published.result.statuses
    return (
        {"publish": published.figures(), "baseline": baseline.figures()},
        {"publish, 1 client": published.result.latencies, "publish baseline, 1 client": baseline.result.latencies},
    )


def bench_publish_scale(gw: LiveGateway, people: int, window: int = 100) -> dict[str, Any]:
    """``people`` new people published one after another, case references shared; the first ``window``
    against the last: a publish must cost the same however many people are on record."""
    bodies = publish_bodies(people, 5)
    windows = []
    for start in range(0, people, window):
        call = _publish_call(gw, bodies[start : start + window], gw.base_url + "/assessments")
        run = measured(gw, lambda c=call, k=min(window, people - start): run_load(c, 1, k, warmup=0))
        assert set(run.result.statuses) == {201}, run.result.statuses
        windows.append(run.figures())
    first, last = windows[0], windows[-1]
    return {
        "people": people,
        "window": window,
        "first": first,
        "last": last,
        "rate_ratio_last_to_first": last["throughput_rps"] / first["throughput_rps"],
        "windows_rps": [w["throughput_rps"] for w in windows],
    }


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
    parser.add_argument("--people", type=int, default=500, help="people published for the publish-rate figure")
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
                results["pull"], latencies, results["policy_cache"] = bench_pulls(gw, args.requests)
                print("publishes...", flush=True)
                results["publish"], publish_latencies = bench_publish(gw, args.requests)
                latencies.update(publish_latencies)
                print(f"publishing {args.people} people with shared case references...", flush=True)
                results["publish_scale"] = bench_publish_scale(gw, args.people)
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
