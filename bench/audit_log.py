"""The disclosure log's costs, each as a ratio to a baseline measured in the same run.

    .venv/bin/python -m bench.audit_log [--postgres SERVER_URL] [--appends 2000] [--proof-size 1000000]
    .venv/bin/python -m bench.audit_log --verify-only 100000 [--postgres SERVER_URL]

- appends/s through ``log.append`` (entry, hash chain, Merkle subtrees, head; one transaction each)
  against raw single-row INSERTs of the same size, one transaction each, on SQLite and PostgreSQL;
- verification entries/s (``verify_log``: every check) against a plain read of the same rows and
  columns through the same cursor and batches (``log_scan.row_batches``, nothing checked), wall clock and per CPU
  second of this process (and, on a local PostgreSQL, of the server backend), interleaved, best of 5
  (``--verify-only N``: only this, over a log of N entries written in batches, untimed);
- proof size and time at ``--proof-size`` entries (an in-memory store of the same complete subtrees
  the database holds; the plan/fetch/fold path is the one the API runs) against one SHA-256;
- checkpoint lag under load: appends run flat out while a ticker (1 s) signs checkpoints; the lag is
  how long the newest entry waited to be covered by a signed checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import checkpoints, log, log_scan, rfc9162, verify_log
from gateway.audit.c2sp_note import NoteSigner
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.migrate import upgrade

FIELDS: dict[str, Any] = {
    "event": AuditEvent.BUNDLE_RELEASED,
    "outcome": Outcome.RELEASED,
    "client_id": "bench-client",
    "agency_code": "POL-NE",
    "agency_type": "police",
    "purpose": "charging",
    "subject_key": "ab" * 32,
    "released": ("identity.name", "vulnerability.summary"),
    "body_sha256": "cd" * 32,
}


def _append(sessions, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        with sessions.begin() as session:
            log.append(session, NewEntry(created_at=datetime.now(UTC), **FIELDS))
    return n / (time.perf_counter() - start)


def _raw_inserts(engine, n: int, payload: str) -> float:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_raw (id VARCHAR(36) PRIMARY KEY, body TEXT)"))
    start = time.perf_counter()
    for _ in range(n):
        with engine.begin() as conn:
            conn.execute(
                text("INSERT INTO bench_raw (id, body) VALUES (:i, :b)"), {"i": str(uuid.uuid4()), "b": payload}
            )
    return n / (time.perf_counter() - start)


def _database(kind: str, server: str | None, tmp: str) -> tuple[str, object]:
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench-audit.db", lambda: None
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"ldg_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(server).set(database=name).render_as_string(hide_password=False), drop


@contextmanager
def _migrated(kind: str, server: str | None, tmp: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    """A throw-away database of ``kind``, migrated; disposed of and dropped on the way out."""
    url, drop = _database(kind, server, tmp)
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine, make_session_factory(engine)
    finally:
        engine.dispose()
        drop()  # type: ignore[operator]


def bench_store(kind: str, server: str | None, appends: int, tmp: str, signer: NoteSigner) -> None:
    with _migrated(kind, server, tmp) as (engine, sessions):
        payload = "x" * 700  # about an entry's size
        raw = _raw_inserts(engine, appends, payload)
        rate = _append(sessions, appends)
        print(f"[{kind}] appends/s {rate:,.0f}  vs raw single-row INSERT {raw:,.0f}/s  ratio {rate / raw:.2f}")

        # Checkpoint lag under load: a ticker signs while appends run flat out for a few seconds.
        lags: list[float] = []
        stop = threading.Event()

        def ticker() -> None:
            # Lag = how long the oldest entry a checkpoint newly covers waited for it.
            with sessions() as session:
                last = checkpoints.latest(session)
            covered = last.tree_size if last else 0
            while not stop.wait(1.0):
                with sessions.begin() as session:
                    made = checkpoints.checkpoint_if_due(session, signer)
                if made is None:
                    continue
                with sessions() as session:
                    oldest = next(log.iter_rows(session, batch=1, start=covered)).created_at
                oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
                lags.append((datetime.now(UTC) - oldest).total_seconds())
                covered = made.tree_size

        with sessions.begin() as session:
            checkpoints.checkpoint_if_due(session, signer, force=True)
        thread = threading.Thread(target=ticker)
        thread.start()
        deadline = time.monotonic() + 12
        while time.monotonic() < deadline:
            _append(sessions, 50)
        stop.set()
        thread.join()
        with sessions.begin() as session:
            checkpoints.checkpoint_if_due(session, signer, force=True)
        if lags:
            print(
                f"[{kind}] checkpoint lag under load: max {max(lags):.2f} s, mean {sum(lags) / len(lags):.2f} s "
                f"({len(lags)} checkpoints; the rule is ≤ 10 s or 1,000 entries, checked every 1 s)"
            )

        _verify_figures(kind, sessions, signer)


def _backend_cpu(session) -> Callable[[], float] | None:
    """CPU seconds used so far by this session's PostgreSQL backend, when the server runs on this machine."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return None  # a server elsewhere: only this process's CPU is reported

    def used() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return used


def _verify_figures(kind: str, sessions, signer: NoteSigner, rounds: int = 5) -> None:
    """verify_log against a plain read of the same rows and columns, interleaved, best of ``rounds``."""

    def verify(session) -> int:
        result = verify_log.verify_log(session, signer.verifier)
        assert result.ok, result.failure
        return result.entries

    def read(session) -> int:
        # The rows as verify_log fetches them: the same cursor, the same batches.
        return sum(len(rows) for rows in log_scan.row_batches(session, batch=verify_log.CHUNK))

    best = {"verify": [1e9, 1e9], "read": [1e9, 1e9]}  # wall, this process's CPU: best of the rounds
    server = {"verify": 0.0, "read": 0.0}  # the backend's CPU, summed (its clock ticks are coarse)
    local_server, entries = False, 0
    for _ in range(rounds):
        for name, call in (("verify", verify), ("read", read)):
            with sessions() as session:
                backend = _backend_cpu(session)
                backend_start = backend() if backend else 0.0
                started, used = time.perf_counter(), time.process_time()
                entries = call(session)
                wall, cpu = time.perf_counter() - started, time.process_time() - used
                if backend:
                    local_server = True
                    server[name] += backend() - backend_start
            best[name] = [min(wall, best[name][0]), min(cpu, best[name][1])]
    (v_wall, v_cpu), (r_wall, r_cpu) = best["verify"], best["read"]
    server_note = ""
    if local_server:
        per_entry = {name: used / rounds / entries * 1e6 for name, used in server.items()}
        server_note = f"; server backend {per_entry['verify']:.1f} µs/entry verifying, {per_entry['read']:.1f} reading"
    print(
        f"[{kind}] verify entries/s {entries / v_wall:,.0f} wall, {entries / v_cpu:,.0f} per CPU second "
        f"(all checks, {entries} entries)  vs a plain read of the same rows {entries / r_wall:,.0f} wall, "
        f"{entries / r_cpu:,.0f} per CPU second  ratio {r_wall / v_wall:.2f} wall, {r_cpu / v_cpu:.2f} CPU{server_note}"
    )


def bench_verify_only(kind: str, server: str | None, entries: int, tmp: str, signer: NoteSigner) -> None:
    """The verify figure alone, over ``entries`` entries appended 1,000 to a transaction (not timed)."""
    with _migrated(kind, server, tmp) as (_engine, sessions):
        for done in range(0, entries, 1000):
            with sessions.begin() as session, log.batch(session):
                for _ in range(min(1000, entries - done)):
                    log.append(session, NewEntry(created_at=datetime.now(UTC), **FIELDS))
        with sessions.begin() as session:
            checkpoints.checkpoint_if_due(session, signer, force=True)
        _verify_figures(kind, sessions, signer)


def bench_proofs(size: int) -> None:
    start = time.perf_counter()
    store: dict[tuple[int, int], bytes] = {}
    compact: list[bytes] = []
    for i in range(size):
        leaf = rfc9162.leaf_hash(i.to_bytes(8, "big"))
        store[(0, i)] = leaf
        compact, created = rfc9162.compact_append(compact, i, leaf)
        store.update(((lv, ix), h) for lv, ix, h in created)
    built = time.perf_counter() - start
    root = rfc9162.root_from_compact(compact)
    rounds = 2000
    start = time.perf_counter()
    for k in range(rounds):
        index = (k * 7919) % size
        proof = rfc9162.materialise(rfc9162.inclusion_plan(index, size), store)
    per_proof = (time.perf_counter() - start) / rounds
    rfc9162.verify_inclusion(index, size, store[(0, index)], proof, root)
    start = time.perf_counter()
    for k in range(rounds):
        # From sizes in the second half of the tree (any --proof-size: k wraps within that half).
        consistency = rfc9162.materialise(rfc9162.consistency_plan(size // 2 + k % max(1, size // 2), size), store)
    per_consistency = (time.perf_counter() - start) / rounds
    start = time.perf_counter()
    for _ in range(rounds):
        hashlib.sha256(b"x" * 64).digest()
    per_hash = (time.perf_counter() - start) / rounds
    print(
        f"[proofs at {size:,} entries] inclusion: {len(proof)} hashes = {32 * len(proof)} bytes, "
        f"{per_proof * 1e6:.1f} µs ({per_proof / per_hash:.0f} x one SHA-256); consistency: "
        f"{len(consistency)} hashes, {per_consistency * 1e6:.1f} µs; tree built by appends in {built:.1f} s "
        f"({size / built:,.0f} leaves/s in memory)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL server URL (a throw-away database is made there)")
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--proof-size", type=int, default=1_000_000)
    parser.add_argument("--verify-only", type=int, metavar="N", help="only the verify figure, over N entries")
    args = parser.parse_args()
    import tempfile

    signer = NoteSigner("bench/disclosure-log", Ed25519PrivateKey.generate())
    with tempfile.TemporaryDirectory() as tmp:
        if args.verify_only:
            bench_verify_only("sqlite", None, args.verify_only, tmp, signer)
            if args.postgres:
                bench_verify_only("postgresql", args.postgres, args.verify_only, tmp, signer)
            return
        bench_store("sqlite", None, args.appends, tmp, signer)
        if args.postgres:
            bench_store("postgresql", args.postgres, args.appends, tmp, signer)
    bench_proofs(args.proof_size)


if __name__ == "__main__":
    main()
