"""``ld-gateway demo``: fictional agencies, clients and assessments for a five-minute tour."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import store
from gateway.assessments.validation import load_schema, validate_assessment
from gateway.auth import registry
from gateway.bootstrap import initialise
from gateway.config import Settings
from gateway.db import unit_of_work
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import Client
from gateway.keys import KeyRing, load_keyring
from gateway.tour import render

DEMO_AGENCIES: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("POL-NE", "Northshire Police", "police", ("custody", "charging")),
    ("MC-NE", "Northshire Magistrates' Court", "court", ("case-management", "sentencing")),
    ("PROB-NE", "Probation Service, Northshire region", "probation", ("case-management", "sentencing")),
    ("YOT-NE", "Northshire Youth Offending Team", "yot", ("case-management", "sentencing")),
    ("LD-NE", "Northshire Liaison and Diversion Service", "ld-service", ("ld-service",)),
    ("MHT-NE", "Northshire Mental Health NHS Trust", "health", ("health-referral",)),
    # A neighbouring L&D service that assessed the same adult, and the police force it linked: its case
    # link opens its own record of him and never Northshire's (DOMAIN.md "Provenance").
    ("LD-SW", "Southmoor Liaison and Diversion Service", "ld-service", ("ld-service",)),
    ("POL-SW", "Southmoor Police", "police", ("charging",)),
)
#: Fictional, ODS-shaped codes for the demo's fictional NHS organisations (documents name them by these,
#: as a real deployment's would by the trust's own code).
DEMO_ODS_CODES: dict[str, str] = {"LD-NE": "ZZ9N1", "MHT-NE": "ZZ9N2", "LD-SW": "ZZ9S1"}
PUBLISHER = "LD-NE"
EXAMPLES = ("adult.json", "child.json")
SECOND_PUBLISHER = "LD-SW"


def second_record(adult: dict[str, Any]) -> dict[str, Any]:
    """Southmoor's own assessment of the adult (same person, same identifiers), linked to its police only."""
    document = copy.deepcopy(adult)
    document["local_reference"] = "LD-SW-2026-000045"
    document["case_links"] = [{"agency_code": "POL-SW", "case_reference": "41SW0004426"}]
    return document


@dataclass(frozen=True)
class DemoSetup:
    keys_dir: Path
    clients: dict[str, str]  # agency code → client_id
    nhs_numbers: dict[str, str]  # example name → NHS number
    published: int
    # The IG demo account and its password, generated afresh on every run and printed once.
    ig_account: tuple[str, str] | None = None


def load_demo(settings: Settings) -> DemoSetup:
    initialise(settings)
    keys_dir = settings.data_dir / "demo-keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    record = keys_dir / "clients.json"
    known: dict[str, str] = json.loads(record.read_text()) if record.exists() else {}
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)

    def register_agencies(tx: Session) -> dict[str, str]:
        clients: dict[str, str] = {}
        for code, name, type_, purposes in DEMO_AGENCIES:
            if registry.get_agency(tx, code) is None:
                registry.add_agency(tx, code, name, type_, ods_code=DEMO_ODS_CODES.get(code))
            key_path = keys_dir / f"{code}.pem"
            client_id = known.get(code)
            if client_id and key_path.exists() and tx.get(Client, client_id) is not None:
                clients[code] = client_id
                continue
            key_path.unlink(missing_ok=True)
            jwk = registry.generate_client_key(key_path)
            clients[code] = registry.add_client(tx, code, list(purposes), jwks={"keys": [jwk]}).client_id
        return clients

    clients = unit_of_work.run(sessions, register_agencies)
    record.write_text(json.dumps(clients, indent=2))

    keyring = load_keyring(settings.keys_dir)
    schema = load_schema(settings.resolved_schema_dir())
    nhs_numbers: dict[str, str] = {}
    published = 0
    for example in EXAMPLES:
        document = json.loads((settings.resolved_schema_dir() / "examples" / example).read_text())
        normalised, problems = validate_assessment(document, schema)
        if normalised is None:
            raise RuntimeError(f"demo example {example} is invalid: {problems}")
        nhs_numbers[example] = normalised["subject"]["nhs_number"]
        if not unit_of_work.run(sessions, partial(_publish_once, keyring=keyring, document=normalised)):
            continue  # already loaded by an earlier run
        published += 1
        if example == "adult.json":
            # Idempotent: the same content again makes no new version.
            published += unit_of_work.run(sessions, partial(_publish_second, keyring=keyring, document=normalised))
    ig_account = _ig_demo_account(sessions)
    engine.dispose()
    return DemoSetup(keys_dir, clients, nhs_numbers, published, ig_account)


def _publish_once(tx: Session, keyring: KeyRing, document: dict[str, Any]) -> bool:
    """Publish ``document`` by the demo's L&D service unless its person is on record already (True if it was)."""
    if store.find_subject_id(tx, keyring, store.NHS_NUMBER, document["subject"]["nhs_number"]):
        return False
    publisher = registry.get_agency(tx, PUBLISHER)
    assert publisher is not None  # registered by load_demo
    store.publish(tx, keyring, publisher=publisher, document=document, now=datetime.now(UTC))
    return True


def _publish_second(tx: Session, keyring: KeyRing, document: dict[str, Any]) -> int:
    """The second L&D service's record of the same person: 1 when it made a new version, else 0."""
    second = registry.get_agency(tx, SECOND_PUBLISHER)
    assert second is not None  # registered by load_demo
    done = store.publish(tx, keyring, publisher=second, document=second_record(document), now=datetime.now(UTC))
    return int(done.created)


IG_DEMO_USER = "ig-demo"


def _ig_demo_account(sessions: sessionmaker[Session]) -> tuple[str, str]:
    """An ig-admin account for the tour; a new random password each run (never a fixed secret)."""
    from gateway.ig import accounts
    from gateway.ig.cli import generate_password

    password = generate_password()

    def work(tx: Session) -> None:
        if accounts.find_by_username(tx, IG_DEMO_USER) is None:
            accounts.add_staff(tx, IG_DEMO_USER, "Demo IG administrator", "ig-admin", password=password)
        else:
            accounts.set_password(tx, IG_DEMO_USER, password)

    unit_of_work.run(sessions, work)
    return IG_DEMO_USER, password


DEFAULT_URL = "http://127.0.0.1:8000"


def tour(setup: DemoSetup, base_url: str) -> str:
    """What the demo loaded, then the tour's numbered steps (gateway.tour, the same as README's)."""
    return "\n".join(
        [
            "",
            "ld-gateway demo: eight fictional agencies, their clients and three fictional assessments are loaded.",
            f"Client keys are in {setup.keys_dir}/ (one PEM per agency; client ids in clients.json).",
            "",
            "Each client command signs a client assertion with the agency's key, gets a 5-minute token bound to",
            "a DPoP key made for the run (RFC 9449), and checks the signed receipt of every disclosure.",
            "",
            "In a second terminal, from this directory, try:",
            "",
            *render(base_url, setup.ig_account, default_url=DEFAULT_URL),
            f"API docs: {base_url}/docs    FHIR capability statement: {base_url}/fhir/metadata",
            "",
        ]
    )
