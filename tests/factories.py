"""Test data factories shared by the storage and hot-path tests."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import store
from gateway.assessments.validation import load_schema, validate_assessment
from gateway.audit import log
from gateway.audit.verify import VerifyResult, verify_rows
from gateway.db.models import Agency
from gateway.keys import KeyRing
from gateway.policy.decision import Decision
from gateway.policy.engine import POLICY_ERROR
from tests.fixtures import ROOT

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
DEMO_AGENCIES = (
    ("LD-NE", "ld-service"),
    ("POL-NE", "police"),
    ("MC-NE", "court"),
    ("PROB-NE", "probation"),
    ("YOT-NE", "yot"),
    ("MHT-NE", "health"),
)


def add_agencies(sessions: sessionmaker[Session], agencies: tuple[tuple[str, str], ...] = DEMO_AGENCIES) -> None:
    with sessions.begin() as session:
        for code, type_ in agencies:
            session.add(Agency(code=code, name=code, type=type_, created_at=NOW))


def example(name: str = "adult.json") -> dict[str, Any]:
    """A schema example, validated and normalised as the API would store it."""
    document = json.loads((ROOT / "schemas" / "examples" / name).read_text())
    normalised, problems = validate_assessment(document, load_schema(ROOT / "schemas"))
    assert normalised is not None, problems
    return normalised


def publish(
    sessions: sessionmaker[Session], keyring: KeyRing, document: dict[str, Any], publisher: str = "LD-NE"
) -> store.Published:
    with sessions.begin() as session:
        agency = session.execute(select(Agency).where(Agency.code == publisher)).scalar_one()
        return store.publish(session, keyring, publisher=agency, document=document, now=NOW)


def log_verdict(sessions: sessionmaker[Session]) -> VerifyResult:
    """The whole disclosure log, as stored now, checked entry by entry against its head."""
    with sessions() as session:
        return verify_rows(log.iter_rows(session), log.read_head(session))


def in_threads(count: int, work: Callable[[int], object]) -> list[BaseException]:
    """``work(0)`` … ``work(count - 1)``, each on its own thread, all started before any is joined; what
    they raised, for the test to assert on in its own thread (an exception on another thread is only
    printed, never a failure)."""
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            work(i)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


class ErringEngine:
    """A policy engine that fails on every question, as one does during an OPA timeout or while the
    embedded engine's thread is busy: each answer is a ``policy-error`` denial carrying the engine's error,
    never the policy's answer. Its revision is new each time, so nothing kept per revision is shared."""

    def __init__(self, catalogue_ids: Sequence[str] | None = None, error: str = "OPA timed out") -> None:
        self.revision = f"erring-{uuid.uuid4()}"
        self.catalogue_ids = tuple(catalogue_ids if catalogue_ids is not None else _catalogue_ids())
        self.error = error
        self.questions = 0

    def decide(self, policy_input: object) -> Decision:
        self.questions += 1
        return Decision.denied(
            POLICY_ERROR, policy_revision=self.revision, decision_id=str(uuid.uuid4()), errors=(self.error,)
        )


@cache
def _catalogue_ids() -> tuple[str, ...]:
    from gateway.assessments.catalogue import load_catalogue

    return load_catalogue(ROOT / "schemas" / "field-catalogue.json").ids
