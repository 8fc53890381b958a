"""A whole gateway for the security suites: every agency type, several people with different case links.

Built the way the CLI builds one (registry for agencies and clients, the store for assessments) and
reached through `create_app` over ASGI; tokens come from the real ``POST /oauth2/token``.
"""

from __future__ import annotations

import copy
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.assessments.identifiers import pnc_check_letter
from gateway.auth import registry
from gateway.config import Settings
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.migrate import upgrade
from gateway.keys import load_keyring
from tests.asgi import AppClient
from tests.auth.conftest import KeyPair, assertion_claims, key_pair, sign_assertion, token_form
from tests.conftest import ROOT
from tests.e2e.canaries import valid_nhs_number
from tests.factories import example, publish
from tests.fixtures.keys import install_keys

# code, type, the purposes of its client (each agency type with every purpose it may register)
AGENCIES = (
    ("LD-NE", "ld-service", ("ld-service",)),
    ("POL-NE", "police", ("charging",)),
    ("CPS-NE", "cps", ("charging",)),
    ("MC-NE", "court", ("case-management", "sentencing")),
    ("PROB-NE", "probation", ("case-management", "sentencing")),
    ("YOT-NE", "yot", ("case-management", "sentencing")),
    ("MHT-NE", "health", ("health-referral",)),
)
READERS = [a for a in AGENCIES if a[1] != "ld-service"]

# person → the agencies with a case link to them; every reader is linked to some and not to others
PEOPLE = {
    "adult-police-court": ("adult.json", ("POL-NE", "MC-NE")),
    "adult-probation-health": ("adult.json", ("PROB-NE", "MHT-NE", "CPS-NE")),
    "child-yot": ("child.json", ("YOT-NE", "MC-NE")),
    "adult-nobody": ("adult.json", ()),
}


@dataclass
class Person:
    name: str
    nhs_number: str
    pnc_id: str
    linked: tuple[str, ...]
    document: dict[str, Any]
    assessment_id: str


@dataclass
class SecurityGateway:
    app: FastAPI
    http: AppClient
    settings: Settings
    sessions: sessionmaker[Session]
    key: KeyPair
    clients: dict[str, str]
    people: dict[str, Person] = field(default_factory=dict)

    def token(self, agency: str, purpose: str) -> str:
        assertion = sign_assertion(self.key, assertion_claims(self.clients[agency]), alg="RS512")
        response = self.http.post("/oauth2/token", data=token_form(assertion, purpose))
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def bearer(self, agency: str, purpose: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(agency, purpose)}"}


def person_document(template: str, rng: random.Random, linked: tuple[str, ...], index: int) -> dict[str, Any]:
    document = copy.deepcopy(example(template))
    document["local_reference"] = f"SEC-{index}"
    document["subject"]["nhs_number"] = valid_nhs_number(rng)
    serial = rng.randrange(1, 9_999_999)
    document["subject"]["pnc_id"] = f"2019/{serial:07d}{pnc_check_letter(19, serial)}"
    document["subject"].pop("cro_number", None)
    # The schema wants at least one case link; the person nobody may see is linked to the publisher only.
    document["case_links"] = [
        {"agency_code": code, "case_reference": f"SEC{index}{rng.randrange(10**6):06d}"}
        for code in linked or ("LD-NE",)
    ]
    return document


def build_gateway(
    database_url: str,
    workdir: Path,
    key: KeyPair,
    keys_template: Path,
    *,
    monotonic: Callable[[], float] = time.monotonic,
    **overrides: Any,
) -> SecurityGateway:
    """On ``database_url``, already migrated (a test's ``database_url``, or :func:`sqlite_copy`); the
    gateway's keys are copied from ``keys_template`` (tests/fixtures/keys.py); ``overrides`` are further
    Settings (the rate-limit suite sets small limits); ``monotonic`` drives the app's per-process caches
    (create_app)."""
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    settings = Settings(
        database_url=database_url,
        data_dir=workdir / "var",
        issuer="http://testserver",
        policy_dir=ROOT / "policies",
        schema_dir=ROOT / "schemas",
        **overrides,
    )
    keyring = load_keyring(install_keys(keys_template, settings.keys_dir))
    clients: dict[str, str] = {}
    with sessions.begin() as session:
        for code, type_, purposes in AGENCIES:
            registry.add_agency(session, code, f"Agency {code}", type_)
            # Bearer clients: this suite is about object-level authorisation; DPoP (on by default for
            # new clients) has its own matrix in tests/auth/test_matrix.py.
            clients[code] = registry.add_client(
                session, code, list(purposes), jwks=key.jwks, dpop_required=False
            ).client_id
    rng = random.Random(8)
    people = {}
    for index, (name, (template, linked)) in enumerate(PEOPLE.items()):
        document = person_document(template, rng, linked, index)
        published = publish(sessions, keyring, document)
        subject = document["subject"]
        people[name] = Person(name, subject["nhs_number"], subject["pnc_id"], linked, document, published.assessment_id)
    app = create_app(settings, monotonic=monotonic)
    return SecurityGateway(app, AppClient(app, raise_app_exceptions=False), settings, sessions, key, clients, people)


def sqlite_copy(sqlite_template: Path, workdir: Path) -> str:
    """The URL of a copy of the session's migrated SQLite template in ``workdir`` (tests/fixtures/databases.py)."""
    path = workdir / "gateway.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def security_key() -> KeyPair:
    return key_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="module")
def security_gateway(
    tmp_path_factory: pytest.TempPathFactory, security_key: KeyPair, keys_template: Path, sqlite_template: Path
) -> Iterator[SecurityGateway]:
    """One gateway on SQLite for a whole module (the fuzzing suites only read, or are refused)."""
    workdir = tmp_path_factory.mktemp("security")
    gw = build_gateway(sqlite_copy(sqlite_template, workdir), workdir, security_key, keys_template)
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gateway_on_each_database(
    request, tmp_path_factory: pytest.TempPathFactory, security_key: KeyPair, keys_template: Path
) -> Iterator[SecurityGateway]:
    """One gateway per module on SQLite and on PostgreSQL (the bad-input sweep and the log canaries)."""
    from tests.conftest import create_pg_database

    workdir = tmp_path_factory.mktemp(f"security-{request.param}")
    drop = None
    if request.param == "sqlite":
        url = sqlite_copy(request.getfixturevalue("sqlite_template"), workdir)
    else:
        url, drop = create_pg_database()
        engine = make_engine(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
    gw = build_gateway(url, workdir, security_key, keys_template)
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()
    if drop:
        drop()
