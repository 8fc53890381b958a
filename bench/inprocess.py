"""In-process figures, each against a baseline doing the bare part of the same work in the same run.

- policy decision (regorus, the embedded engine): cold (the first decision of a freshly loaded engine,
  and the load itself) and warm;
- log append rate against a bare insert of the same bytes into the same database, one transaction
  per entry either way (the durable commit both share is most of the cost);
- log verification rate (``verify_log``, what ``ld-gateway audit verify`` runs: entries, links, the
  stored Merkle tree, the head) against reading the same rows without verifying them.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select

from bench.load import summary

if TYPE_CHECKING:
    from gateway.audit.entry import NewEntry

ROOT = Path(__file__).resolve().parent.parent
VERIFY_ENTRIES = 10000
BATCH = 100  # entries per transaction for the batched append figure


def timed(call: Callable[[], object], n: int, warmup: int = 10, cpu: list[float] | None = None) -> list[float]:
    """Wall times of ``n`` calls; with ``cpu``, this process's CPU time of each call is added to it."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        started, used = time.perf_counter(), time.process_time()
        call()
        samples.append(time.perf_counter() - started)
        if cpu is not None:
            cpu.append(time.process_time() - used)
    return samples


def _policy_input() -> dict[str, Any]:
    from gateway.policy import build_input

    content = json.loads((ROOT / "schemas" / "examples" / "adult.json").read_text())
    return build_input(
        agency_type="police",
        agency_code="POL-NE",
        purpose="charging",
        date_of_birth=date.fromisoformat(content["subject"]["date_of_birth"]),
        on=date(2026, 11, 20),
        consent=content["consent"],
    )


def policy_figures(n: int, cold_runs: int = 5) -> dict[str, dict[str, float]]:
    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy import EmbeddedRegoEngine

    ids = load_catalogue(ROOT / "schemas" / "field-catalogue.json").ids
    policy_input = _policy_input()
    figures: dict[str, dict[str, float]] = {}
    for name, kind in (("regorus", EmbeddedRegoEngine),):
        loads, firsts = [], []
        for _ in range(cold_runs):
            started = time.perf_counter()
            engine = kind(ROOT / "policies", ids)
            loaded = time.perf_counter()
            decision = engine.decide(policy_input)
            firsts.append(time.perf_counter() - loaded)
            loads.append(loaded - started)
            assert decision.allowed, "the bench decision must be a real release"
        figures[f"policy_{name}_load"] = summary(loads)
        figures[f"policy_{name}_cold"] = summary(firsts)
        figures[f"policy_{name}_warm"] = summary(timed(lambda e=engine: e.decide(policy_input), n))
    return figures


def _entry() -> NewEntry:
    from gateway.audit.entry import NewEntry, WithheldField
    from gateway.audit.events import AuditEvent, Outcome

    return NewEntry(
        event=AuditEvent.BUNDLE_RELEASED,
        outcome=Outcome.RELEASED,
        created_at=datetime.now(UTC),
        client_id=str(uuid.uuid4()),
        agency_code="POL-NE",
        agency_type="police",
        purpose="charging",
        subject_key="ab" * 32,
        assessment_id=str(uuid.uuid4()),
        assessment_version=1,
        released=("identity.name", "needs.appropriate_adult", "diversion.recommendation"),
        withheld=(WithheldField("clinical.diagnoses", "stage-charging", "not needed for charging"),),
        policy_revision="0" * 64,
        decision_id=str(uuid.uuid4()),
        body_sha256="cd" * 32,
    )


def log_figures(database_url: str, n: int) -> dict[str, dict[str, float]]:
    """Append and verify rates on a freshly migrated database at ``database_url``."""
    from gateway.audit import log
    from gateway.audit.verify_log import verify_log
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.db.migrate import upgrade

    engine = make_engine(database_url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    bare = Table(
        "bench_bare_rows",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("disclosure_id", String(36)),
        Column("entry", Text),
        Column("leaf_hash", String(64)),
    )
    bare.create(engine, checkfirst=True)

    def append() -> None:
        with sessions.begin() as session:
            log.append(session, _entry())

    # The same canonical bytes an append stores, so the baseline writes what the log writes.
    from gateway.audit.entry import GENESIS_HASH, LogEntry
    from gateway.json_bytes import canonical_json

    sample = _entry()
    raw = canonical_json(LogEntry.of(sample, seq=0, prev_hash=GENESIS_HASH).to_json()).decode()
    sample_row = {"disclosure_id": sample.disclosure_id, "entry": raw, "leaf_hash": "ef" * 32}

    def bare_insert() -> None:
        with engine.begin() as conn:
            conn.execute(insert(bare), sample_row)

    # ABBA: half of each before and after the other, so drift in a shared machine's load hits both.
    appends, inserts = [], []
    for order in ((append, bare_insert), (bare_insert, append)):
        for call in order:
            (appends if call is append else inserts).extend(timed(call, n // 2, warmup=5))

    # Many entries per transaction (what the log writer's group commit does: log.batch, the head moved
    # once): the log's own cost per entry, with the commit shared, against bare inserts of the same
    # bytes batched the same way.
    def append_batch() -> None:
        with sessions.begin() as session, log.batch(session):
            for _ in range(BATCH):
                log.append(session, _entry())

    def insert_batch() -> None:
        with engine.begin() as conn:
            conn.execute(insert(bare), [dict(sample_row) for _ in range(BATCH)])

    batched, batched_bare, batched_cpu, batched_bare_cpu = [], [], [], []
    for order in ((append_batch, insert_batch), (insert_batch, append_batch)):
        for call in order:
            if call is append_batch:
                batched.extend(timed(call, 10, warmup=1, cpu=batched_cpu))
            else:
                batched_bare.extend(timed(call, 10, warmup=1, cpu=batched_bare_cpu))

    # Verification is measured over a log of a realistic length, written in bulk (not timed).
    while True:
        with sessions.begin() as session:
            if (log.read_head(session) or (0, ""))[0] >= VERIFY_ENTRIES:
                break
        with sessions.begin() as session, log.batch(session):
            for _ in range(1000):
                log.append(session, _entry())

    def verify() -> int:
        with sessions() as session:
            result = verify_log(session, None)
        assert result.ok, result.failure
        return result.entries

    def read_only() -> int:
        # The same columns, a plain read of every row: the floor under any verification.
        with engine.connect() as conn:
            return sum(1 for _ in conn.exec_driver_sql("SELECT seq, entry, leaf_hash FROM disclosure_log"))

    entries = verify()
    read_only()
    # Interleaved, best of five each: the least disturbed run of each on a shared machine.
    verify_runs, read_runs, verify_cpu, read_cpu = [], [], [], []
    for _ in range(5):
        verify_runs += timed(verify, 1, warmup=0, cpu=verify_cpu)
        read_runs += timed(read_only, 1, warmup=0, cpu=read_cpu)
    verify_s, read_s = min(verify_runs), min(read_runs)
    with engine.begin() as conn:
        rows = conn.execute(select(bare.c.id)).all()
    assert len(rows) >= n // 2
    bare.drop(engine)
    engine.dispose()
    return {
        "log_append": {**summary(appends), "rate_per_s": 1 / (sum(appends) / len(appends))},
        "bare_insert": {**summary(inserts), "rate_per_s": 1 / (sum(inserts) / len(inserts))},
        "log_append_batched": {
            "per_transaction": BATCH,
            "rate_per_s": BATCH * len(batched) / sum(batched),
            "cpu_rate_per_s": BATCH * len(batched_cpu) / sum(batched_cpu),
        },
        "bare_insert_batched": {
            "per_transaction": BATCH,
            "rate_per_s": BATCH * len(batched_bare) / sum(batched_bare),
            "cpu_rate_per_s": BATCH * len(batched_bare_cpu) / sum(batched_bare_cpu),
        },
        "log_verify": {
            "entries": entries,
            "seconds": verify_s,
            "rate_per_s": entries / verify_s,
            "cpu_rate_per_s": entries / min(verify_cpu),
        },
        "log_read": {
            "entries": entries,
            "seconds": read_s,
            "rate_per_s": entries / read_s,
            "cpu_rate_per_s": entries / min(read_cpu),
        },
    }
