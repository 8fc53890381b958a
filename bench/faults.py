"""Fault injection: the server killed with SIGKILL under load, PostgreSQL stopped and restarted under load.

    .venv/bin/python -m bench.faults kill [--kills 100] [--postgres SERVER_URL]
    .venv/bin/python -m bench.faults pg-outage [--outages 3]

`make faults` runs both at full count; tests/faults runs them at a reduced count in CI. After each run
the checks below are made, and any failure is printed and ends the script non-zero:

- every 200 the clients received has its log entry: each id in X-Disclosure-Id is in the log as a
  release, and the entry's body_sha256 is the SHA-256 of the bytes received;
- every other answer that names a disclosure id has its entry too (refusals are logged);
- an answer without a log entry is never a disclosure: 503s carry an OperationOutcome;
- `ld-gateway audit verify` passes;
- no partial assessment version: every 201 the publisher received is stored, every assessment's
  versions are exactly 1..current, and every version decrypts to an assessment that validates.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from adapters.agency_client.client import AgencyClient, TokenRefused
from bench.live import ROOT, LiveGateway
from bench.run import publish_bodies, throwaway_databases

#: How a run's gateway gets its data directory and database: ``ld-gateway demo --no-serve`` by default;
#: the tests hand in a copy of the demo their run has already set up (the same rows and keys).
SetUp = Callable[[LiveGateway], None]


@dataclass
class Seen:
    """One answer a client received."""

    status: int
    disclosure_ids: tuple[str, ...]
    body_sha256: str
    resource_type: str | None
    sent: float = 0.0  # time.monotonic() when the request went out


@dataclass
class Load:
    """Pulling (GET /fhir/Bundle/{id}) and publishing threads that survive the server's deaths."""

    gw: LiveGateway
    pullers: int = 3
    seen: list[Seen] = field(default_factory=list)
    published: list[tuple[str, int]] = field(default_factory=list)
    transport_errors: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _record(self, response: httpx.Response, sent: float) -> Seen:
        ids = tuple(i for i in response.headers.get("X-Disclosure-Id", "").split(",") if i)
        try:
            resource_type = response.json().get("resourceType")
        except ValueError:
            resource_type = None
        seen = Seen(response.status_code, ids, hashlib.sha256(response.content).hexdigest(), resource_type, sent)
        with self._lock:
            self.seen.append(seen)
        return seen

    def _transport_error(self) -> None:
        with self._lock:
            self.transport_errors += 1
        time.sleep(0.05)

    def _pull(self, bundle_id: str, client: AgencyClient) -> None:
        # The client's DPoP-bound token signs a fresh proof per request (RFC 9449).
        while not self.stop.is_set():
            sent = time.monotonic()
            try:
                response = client.request("GET", f"/fhir/Bundle/{bundle_id}", "charging")
            except (httpx.TransportError, TokenRefused):
                self._transport_error()
                continue
            self._record(response, sent)

    def _publish(self, client: AgencyClient) -> None:
        bodies = publish_bodies(8, random.randrange(10**6))  # republished in turn: new versions
        for i in range(10**9):
            if self.stop.is_set():
                return
            try:
                response = client.request(
                    "POST",
                    "/assessments",
                    "ld-service",
                    content=bodies[i % len(bodies)],
                    headers={"Content-Type": "application/json"},
                )
            except (httpx.TransportError, TokenRefused):
                self._transport_error()
                continue
            if response.status_code == 201:
                data = response.json()
                with self._lock:
                    self.published.append((data["id"], data["version"]))

    def start(self) -> list[threading.Thread]:
        police = self.gw.agency_client("POL-NE")
        nhs = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())["subject"]["nhs_number"]
        found = police.search("charging", nhs)
        assert found.status == 200, found.status
        bundle_id = found.body["entry"][0]["resource"]["id"]
        # Tokens are taken before the first kill, outlive restarts (the signing key is on disk) and are
        # renewed by the clients before they expire (a full run outlasts their 300 s).
        publisher = self.gw.agency_client("LD-NE")
        police.token("charging"), publisher.token("ld-service")
        threads = [
            threading.Thread(target=self._pull, args=(bundle_id, police), daemon=True) for _ in range(self.pullers)
        ]
        threads.append(threading.Thread(target=self._publish, args=(publisher,), daemon=True))
        for thread in threads:
            thread.start()
        return threads

    def finish(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        for thread in threads:
            thread.join(timeout=60)

    def settle(self, min_200: int = 20, min_published: int = 5, timeout: float = 120) -> None:
        """Let the load run on until enough got through for the checks to mean something (returns as soon
        as it has: ``timeout`` is a bound for a loaded machine, where the restarts alone take seconds)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(s.status == 200 for s in self.seen) >= min_200 and len(self.published) >= min_published:
                return
            time.sleep(0.1)

    def statuses(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(Counter(s.status for s in self.seen).items())}


def _answered_since(load: Load, mark: int, stopped: float) -> bool:
    """An answer has come since ``load.seen[mark]`` other than a 200 to a request sent before ``stopped``."""
    return any(not (s.status == 200 and s.sent < stopped) for s in load.seen[mark:])


def check(gw: LiveGateway, load: Load) -> list[str]:
    """Every problem found after a run (empty: all held)."""
    from sqlalchemy import select

    from gateway.assessments.validation import load_schema, validate_assessment
    from gateway.db.engine import make_engine
    from gateway.db.models import Assessment, AssessmentVersion, DisclosureLogEntry, Subject
    from gateway.keys import load_keyring

    problems: list[str] = []
    # A run in which nothing was disclosed or published proves nothing: that is a failure too.
    if sum(s.status == 200 for s in load.seen) < 20 or len(load.published) < 5:
        problems.append(f"too little load got through: {load.statuses()}, {len(load.published)} publishes")
    engine = make_engine(gw.database_url)
    try:
        with engine.connect() as conn:
            entries = {
                row.disclosure_id: json.loads(row.entry)
                for row in conn.execute(select(DisclosureLogEntry.disclosure_id, DisclosureLogEntry.entry))
            }
        for seen in load.seen:
            if seen.status == 200:
                if not seen.disclosure_ids:
                    problems.append("a 200 without X-Disclosure-Id")
                for did in seen.disclosure_ids:
                    entry = entries.get(did)
                    if entry is None:
                        problems.append(f"a 200 whose disclosure {did} is not in the log")
                    elif entry["outcome"] != "released" or entry["body_sha256"] != seen.body_sha256:
                        problems.append(f"disclosure {did}: the log does not describe the bytes received")
            else:
                problems += [
                    f"a {seen.status} whose entry {d} is missing" for d in seen.disclosure_ids if d not in entries
                ]
                if not seen.disclosure_ids and seen.resource_type != "OperationOutcome":
                    problems.append(f"a {seen.status} with neither a log entry nor an OperationOutcome")

        keyring = load_keyring(gw.data_dir / "keys")
        schema = load_schema(ROOT / "schemas")
        from gateway.assessments import store
        from gateway.keys.envelope import decrypt

        with make_session(engine) as session:
            stored = {
                (a, v) for a, v in session.execute(select(AssessmentVersion.assessment_id, AssessmentVersion.version))
            }
            problems += [
                f"publish of {a} v{v} answered 201 but not stored" for a, v in load.published if (a, v) not in stored
            ]
            for assessment in session.execute(select(Assessment)).scalars():
                versions = sorted(v for a, v in stored if a == assessment.id)
                if versions != list(range(1, assessment.current_version + 1)):
                    problems.append(
                        f"assessment {assessment.id}: versions {versions}, current {assessment.current_version}"
                    )
                subject = session.get(Subject, assessment.subject_id)
                assert subject is not None
                data_key = store._subject_data_key(keyring, subject)
                for version in versions:
                    row = session.get(AssessmentVersion, (assessment.id, version))
                    assert row is not None and row.ciphertext is not None
                    content = json.loads(decrypt(data_key, row.ciphertext, store.content_aad(assessment.id, version)))
                    if validate_assessment(content, schema)[0] is None:
                        problems.append(f"assessment {assessment.id} v{version} does not validate")
    finally:
        engine.dispose()
    verify = gw.cli("audit", "verify", "--json")
    if verify.returncode != 0:
        problems.append(f"audit verify failed: {verify.stdout.strip()} {verify.stderr.strip()}")
    return problems


def make_session(engine: Any) -> Any:
    from gateway.db.engine import make_session_factory

    return make_session_factory(engine)()


def kill_run(
    kills: int, postgres: str | None = None, seed: int = 8, set_up: SetUp = LiveGateway.setup
) -> dict[str, Any]:
    """SIGKILL the server ``kills`` times under load, restarting it each time; then check."""
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="ldg-faults-"))
    try:
        with throwaway_databases(postgres, work) as (database_url, _):
            gw = LiveGateway(work, database_url)
            set_up(gw)
            gw.start()
            load = Load(gw)
            threads = load.start()
            try:
                for _ in range(kills):
                    time.sleep(rng.uniform(0.1, 0.6))  # mid-load: requests in every stage of the hot path
                    gw.kill9()
                    gw.start()
                load.settle()
            finally:
                load.finish(threads)
                gw.stop()
            problems = check(gw, load)
            return {
                "kills": kills,
                "database": "postgresql" if postgres else "sqlite",
                "answers": load.statuses(),
                "publishes_acknowledged": len(load.published),
                "transport_errors": load.transport_errors,
                "problems": problems,
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def pg_outage_run(
    outages: int, down_seconds: float = 1.5, recover_within: float = 30, set_up: SetUp = LiveGateway.setup
) -> dict[str, Any]:
    """Stop and restart a private PostgreSQL under load; the gateway must answer 503 and recover alone."""
    from bench.private_pg import PrivatePostgres

    pg = PrivatePostgres()
    work = Path(tempfile.mkdtemp(prefix="ldg-pg-outage-"))
    try:
        pg.init()
        gw = LiveGateway(work, pg.url)
        set_up(gw)
        gw.start()
        assert gw.process is not None
        pid = gw.process.pid
        load = Load(gw, pullers=2)
        threads = load.start()
        during: Counter[int] = Counter()
        recovery_seconds: list[float] = []
        problems: list[str] = []
        try:
            for _ in range(outages):
                time.sleep(0.7)
                pg.stop("immediate")
                stopped, mark = time.monotonic(), len(load.seen)
                time.sleep(down_seconds)
                # Down at least that long, and until a client has had an answer while it was: on a loaded
                # machine one request can outlast the outage, and an outage nobody was answered in tests
                # nothing (returns as soon as one came; ``recover_within`` only bounds a hung gateway).
                while not _answered_since(load, mark, stopped) and time.monotonic() - stopped < recover_within:
                    time.sleep(0.05)
                # Everything answered while the database was down, the tail of requests in flight at
                # the stop included; but a 200 to a request sent before the stop had finished may have
                # committed first (on a loaded machine its answer can be recorded well after the
                # stop): check() holds it to its log entry like every other 200.
                during.update(s.status for s in load.seen[mark:] if not (s.status == 200 and s.sent < stopped))
                pg.start()
                restarted = time.monotonic()
                mark = len(load.seen)
                while time.monotonic() - restarted < recover_within:
                    if any(s.status == 200 for s in load.seen[mark:]):
                        break
                    time.sleep(0.05)
                else:
                    problems.append(f"no 200 within {recover_within} s of PostgreSQL coming back")
                recovery_seconds.append(time.monotonic() - restarted)
            load.settle()
        finally:
            load.finish(threads)
            alive = gw.process.poll() is None and gw.process.pid == pid
            gw.stop()
        if not alive:
            problems.append("the gateway process died or was restarted")
        if set(during) - {503}:
            problems.append(f"answers while PostgreSQL was down other than 503: {dict(during)}")
        problems += check(gw, load)
        return {
            "outages": outages,
            "answers": load.statuses(),
            "answers_while_down": {str(k): v for k, v in during.items()},
            "recovery_seconds": recovery_seconds,
            "publishes_acknowledged": len(load.published),
            "problems": problems,
        }
    finally:
        pg.destroy()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="fault", required=True)
    kill = sub.add_parser("kill", help="SIGKILL the server under load")
    kill.add_argument("--kills", type=int, default=100)
    kill.add_argument("--postgres", default=None, help="a PostgreSQL server URL for a throw-away database")
    outage = sub.add_parser("pg-outage", help="stop and restart a private PostgreSQL under load")
    outage.add_argument("--outages", type=int, default=3)
    args = parser.parse_args()
    if args.fault == "kill":
        result = kill_run(args.kills, args.postgres)
    else:
        from bench.private_pg import missing_reason

        reason = missing_reason()
        if reason:
            print(f"skipped: {reason}")
            return
        result = pg_outage_run(args.outages)
    print(json.dumps(result, indent=2))
    if result["problems"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
