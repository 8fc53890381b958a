"""A whole gateway (create_app) on the suite's SQLite and PostgreSQL databases, real keys, real policy.

Agencies, clients and one published adult assessment are set up the way the CLI would: registry for
agencies and clients (RSA keys made here, public JWKS registered), the store for the assessment. Tokens
come from the real ``POST /oauth2/token`` with a signed client assertion.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.assessments.catalogue import load_catalogue
from gateway.auth import registry
from gateway.config import Settings
from gateway.keys import KeyRing, load_or_create_keyring
from gateway.policy import EmbeddedRegoEngine
from tests.asgi import AppClient
from tests.auth.conftest import KeyPair, assertion_claims, key_pair, sign_assertion, token_form
from tests.conftest import ROOT
from tests.dpop import DpopAuth, DpopKey
from tests.factories import example, publish

CATALOGUE = load_catalogue(ROOT / "schemas" / "field-catalogue.json")

# code, type, purposes of its one client
AGENCIES = (
    ("LD-NE", "ld-service", ("ld-service",)),
    ("POL-NE", "police", ("charging",)),
    ("MC-NE", "court", ("case-management", "sentencing")),
    ("PROB-NE", "probation", ("case-management", "sentencing")),
    ("MHT-NE", "health", ("health-referral",)),  # no case link in the adult example
)


@pytest.fixture(scope="session")
def review_rego() -> EmbeddedRegoEngine:
    return EmbeddedRegoEngine(ROOT / "policies", CATALOGUE.ids)


@pytest.fixture(scope="session")
def review_key() -> KeyPair:
    return key_pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


def Http(app: FastAPI, *, raise_app_exceptions: bool = False) -> AppClient:
    """Requests as a real server would answer them (exceptions the app re-raises are not re-raised here)."""
    return AppClient(app, raise_app_exceptions=raise_app_exceptions)


@dataclass
class Gateway:
    app: FastAPI
    http: AppClient
    settings: Settings
    sessions: sessionmaker[Session]
    keyring: KeyRing
    key: KeyPair
    clients: dict[str, str] = field(default_factory=dict)
    published: Any = None

    dpop_key: DpopKey = field(default_factory=DpopKey)

    def token(self, agency: str, purpose: str) -> str:
        """A DPoP-bound token (the clients are registered with DPoP required, the default)."""
        claims = assertion_claims(self.clients[agency])
        assertion = sign_assertion(self.key, claims, alg="RS512")
        proof = self.dpop_key.proof("POST", self.settings.token_url)
        response = self.http.post("/oauth2/token", data=token_form(assertion, purpose), headers={"DPoP": proof})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def auth(self, agency: str, purpose: str) -> DpopAuth:
        """Pass as ``auth=``: each request then carries the token and a fresh proof for its method and URL."""
        return DpopAuth(self.token(agency, purpose), self.dpop_key)


@pytest.fixture
def gateway(
    settings: Settings, session_factory: sessionmaker[Session], review_rego: EmbeddedRegoEngine, review_key: KeyPair
) -> Iterator[Gateway]:
    keyring = load_or_create_keyring(settings.keys_dir)
    clients: dict[str, str] = {}
    with session_factory.begin() as session:
        for code, type_, purposes in AGENCIES:
            registry.add_agency(session, code, f"Agency {code}", type_)
            clients[code] = registry.add_client(session, code, list(purposes), jwks=review_key.jwks).client_id
    published = publish(session_factory, keyring, example("adult.json"))
    app = create_app(settings, policy=review_rego)
    gw = Gateway(app, Http(app), settings, session_factory, keyring, review_key, clients, published)
    yield gw
    app.state.gateway.sessions.kw["bind"].dispose()
