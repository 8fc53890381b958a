"""Notification latency of court requests, under a background load of pulls, on a real server process.

    python -m bench.request_notify [--postgres URL] [--requests 40] [--load-threads 2]

Measured in one run, against one server:

- **request → L&D notified**: from the court sending ``POST /fhir/Task`` to the L&D service's open
  ``GET /events`` stream receiving ``task.created`` for that task;
- **completion → requester notified**: from the L&D service sending the completing ``PATCH`` to the court's
  stream receiving ``task.completed``;
- the baselines, under the same load at the same time: ``GET /bench/baseline`` (a bare endpoint returning
  a document's bytes, no auth, no database) and a police pull (``GET /fhir/Bundle?patient.identifier=``).

Figures are printed as p50/p99 and as ratios to the bare baseline's p50 (the issue's target: p99 < 1 s).
Results go to bench/results/request_notify-<database>.json.
"""

from __future__ import annotations

import argparse
import json
import queue
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from adapters.agency_client import AgencyClient
from adapters.agency_client.client import sign_dpop_proof
from adapters.court_requests import task_resource
from bench.live import ROOT, LiveGateway
from bench.load import summary
from tests.court_requests.conftest import OTHER_NHS, other_person  # the fictional second person of the test suite

ADULT_NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CODES = "https://ld-gateway.example/fhir/CodeSystem"
PATCH = {"Content-Type": "application/json-patch+json"}


class Stream(threading.Thread):
    """An SSE client: (arrival time, event type, data) for every event, on a queue."""

    def __init__(self, client: AgencyClient, purpose: str) -> None:
        super().__init__(daemon=True)
        url = client.base_url + "/events"
        token = client.token(purpose)
        self.headers = {
            "Authorization": f"DPoP {token}",
            "DPoP": sign_dpop_proof(client.dpop_key, "GET", url, access_token=token),
            "Accept": "text/event-stream",
        }
        self.url = url
        self.events: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:
            return  # the server stopped at the end of the run

    def _read(self) -> None:
        with httpx.stream("GET", self.url, headers=self.headers, timeout=httpx.Timeout(10, read=None)) as response:
            kind = ""
            for line in response.iter_lines():
                if line.startswith(":"):
                    self.ready.set()
                elif line.startswith("event:"):
                    kind = line.removeprefix("event:").strip()
                elif line.startswith("data:"):
                    self.events.put((time.perf_counter(), kind, json.loads(line.removeprefix("data:"))))

    def wait_for(self, kind: str, task_id: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while True:
            at, got, data = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            if got == kind and data.get("task") == task_id:
                return at


def background(gw: LiveGateway, stop: threading.Event, pulls: list[float], bare: list[float]) -> None:
    police = gw.agency_client("POL-NE")
    with httpx.Client(timeout=30) as http:
        while not stop.is_set():
            started = time.perf_counter()
            police.search("charging", ADULT_NHS)
            pulls.append(time.perf_counter() - started)
            started = time.perf_counter()
            http.get(gw.base_url + "/bench/baseline")
            bare.append(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+psycopg://...) instead of SQLite")
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--load-threads", type=int, default=2)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="ldg-bench-requests-"))
    database = "postgresql" if args.postgres else "sqlite"
    gw = LiveGateway(workdir, args.postgres or f"sqlite:///{workdir / 'gateway.db'}")
    (workdir / "baseline-body").write_bytes(b'{"resourceType":"Bundle","type":"document"}')
    gw.setup()
    gw.start()
    try:
        ld, court = gw.agency_client("LD-NE"), gw.agency_client("MC-NE")
        published = ld.publish(other_person())
        published.raise_for_status()
        assessment_id = published.json()["id"]
        ld_stream, court_stream = Stream(ld, "ld-service"), Stream(court, "case-management")
        for stream in (ld_stream, court_stream):
            stream.start()
            if not stream.ready.wait(30):
                raise RuntimeError("event stream did not open")

        stop = threading.Event()
        pulls: list[float] = []
        bare: list[float] = []
        loaders = [
            threading.Thread(target=background, args=(gw, stop, pulls, bare), daemon=True)
            for _ in range(args.load_threads)
        ]
        for loader in loaders:
            loader.start()
        time.sleep(1.0)  # the load is running before the first request

        created: list[float] = []
        completed: list[float] = []
        output = {
            "type": {"coding": [{"system": f"{CODES}/task-output", "code": "assessment"}]},
            "valueReference": {"reference": f"Bundle/{assessment_id}"},
        }
        from datetime import UTC, datetime, timedelta

        for i in range(args.requests):
            body = task_resource(OTHER_NHS, f"01NE{i:05d}26", datetime.now(UTC) + timedelta(hours=2), "urgent", None)
            court.token("case-management"), ld.token("ld-service")  # tokens outside the timed span
            started = time.perf_counter()
            response = court.request("POST", "/fhir/Task", "case-management", json=body)
            response.raise_for_status()
            task_id = response.json()["id"]
            created.append(ld_stream.wait_for("task.created", task_id) - started)
            ld.request(
                "PATCH",
                f"/fhir/Task/{task_id}",
                "ld-service",
                headers=PATCH,
                content=json.dumps([{"op": "replace", "path": "/status", "value": "accepted"}]),
            ).raise_for_status()
            ops = [
                {"op": "replace", "path": "/status", "value": "completed"},
                {"op": "add", "path": "/output", "value": [output]},
            ]
            started = time.perf_counter()
            ld.request(
                "PATCH", f"/fhir/Task/{task_id}", "ld-service", headers=PATCH, content=json.dumps(ops)
            ).raise_for_status()
            completed.append(court_stream.wait_for("task.completed", task_id) - started)
        stop.set()
        for loader in loaders:
            loader.join(60)
    finally:
        gw.stop()

    base = summary(bare)
    results = {
        "database": database,
        "requests": args.requests,
        "load_threads": args.load_threads,
        "baseline_bare_get": {**base, "n": len(bare)},
        "baseline_pull": {**summary(pulls), "n": len(pulls)},
        "request_to_ld_notified": summary(created),
        "completion_to_requester_notified": summary(completed),
    }
    lines = [f"Request notifications ({database}, {args.requests} requests, {args.load_threads} pull threads):"]
    for name in ("baseline_bare_get", "baseline_pull", "request_to_ld_notified", "completion_to_requester_notified"):
        row = results[name]
        lines.append(
            f"  {name:34s} p50 {row['p50_ms']:7.1f} ms  p99 {row['p99_ms']:7.1f} ms"
            f"  = {row['p50_ms'] / base['p50_ms']:5.1f}x / {row['p99_ms'] / base['p50_ms']:5.1f}x bare p50"
        )
    print("\n".join(lines))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"request_notify-{database}.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
