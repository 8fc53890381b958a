"""The cost of one pull, counted: SQL statements and commits (SQLAlchemy engine events), never timings.

DESIGN.md: reads hold no write lock; a pull makes one short write transaction (DPoP replay claim, log
entry, notification outbox) and one commit; at most six statements on either database. BEGIN is not
counted (PostgreSQL's is implicit in the driver and never seen; SQLite's is explicit): see bench/server.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, event

from gateway.assessments.identifiers import NHS_NUMBER_SYSTEM
from gateway.auth import registry
from tests.auth.conftest import assertion_claims, sign_assertion, token_form
from tests.dpop import DpopAuth, DpopKey
from tests.security.conftest import SecurityGateway, build_gateway


@dataclass
class Counted:
    statements: list[str] = field(default_factory=list)
    commits: int = 0
    begins: list[str] = field(default_factory=list)


class Clock:
    """The app's monotonic clock, moved only by the test. The per-process caches a pull reads (revoked
    tokens and clients, gateway.auth.store; webhook subscriptions, gateway.court_requests.webhooks) are
    reloaded when 1 s has passed on it: on the real clock a loaded machine took longer than that between
    the warming pull and the measured one, and the measured pull paid for the reloads."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gateway(database_url: str, tmp_path, keys_template, agency_key, clock: Clock) -> Iterator[SecurityGateway]:
    gw = build_gateway(database_url, tmp_path, agency_key, keys_template, monotonic=clock)
    yield gw
    gw.sessions.kw["bind"].dispose()
    gw.app.state.gateway.sessions.kw["bind"].dispose()


def _dpop_client(gw: SecurityGateway) -> tuple[str, DpopKey]:
    with gw.sessions.begin() as session:
        client_id = registry.add_client(session, "POL-NE", ["charging"], jwks=gw.key.jwks).client_id
    dpop = DpopKey()
    assertion = sign_assertion(gw.key, assertion_claims(client_id), alg="RS512")
    response = gw.http.post(
        "/oauth2/token",
        data=token_form(assertion, "charging"),
        headers={"DPoP": dpop.proof("POST", "http://testserver/oauth2/token")},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"]), dpop


@pytest.fixture
def counted() -> Iterator[Counted]:
    """Everything sent on any engine for requests, the log writer's shared commit included (not background loops)."""
    seen = Counted()
    lock = threading.Lock()
    skip = {"ld-gateway-webhooks", "ld-gateway-listen", "checkpoint-ticker"}

    def statement(_conn, _cursor, sql: str, *_args) -> None:
        if threading.current_thread().name in skip:
            return
        with lock:
            (seen.begins if sql.startswith("BEGIN") else seen.statements).append(sql)

    def commit(_conn) -> None:
        if threading.current_thread().name not in skip:
            with lock:
                seen.commits += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "commit", commit)
    yield seen
    event.remove(Engine, "before_cursor_execute", statement)
    event.remove(Engine, "commit", commit)


def test_a_pull_is_one_commit_and_at_most_six_statements(gateway: SecurityGateway, counted: Counted) -> None:
    token, dpop = _dpop_client(gateway)
    person = gateway.people["adult-police-court"]
    params = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"}
    # The first pull warms the per-process caches (agencies, the decision); the second is the steady state.
    first = gateway.http.get("/fhir/Bundle", params=params, auth=DpopAuth(token, dpop))
    assert first.status_code == 200, first.text
    counted.statements.clear()
    counted.begins.clear()
    counted.commits = 0
    second = gateway.http.get("/fhir/Bundle", params=params, auth=DpopAuth(token, dpop))
    assert second.status_code == 200, second.text
    assert counted.commits == 1, counted
    assert len(counted.statements) <= 6, "\n".join(counted.statements)
    # On SQLite: one write transaction (BEGIN IMMEDIATE) and reads that take no write lock (BEGIN).
    assert sum(b.startswith("BEGIN IMMEDIATE") for b in counted.begins) <= 1, counted.begins


def test_flaky_statement_count_a_cache_refresh_costs_only_its_reloads(
    gateway: SecurityGateway, counted: Counted, clock: Clock
) -> None:
    """The cause of the once-seen 8 statements, pinned: a pull after the 1 s caches have expired reloads
    revoked tokens and clients (two statements) and webhook subscriptions (one); the rest is the pull."""
    token, dpop = _dpop_client(gateway)
    person = gateway.people["adult-police-court"]
    params = {"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{person.nhs_number}"}
    assert gateway.http.get("/fhir/Bundle", params=params, auth=DpopAuth(token, dpop)).status_code == 200
    counted.statements.clear()
    counted.commits = 0
    clock.now += 1.5

    refreshed = gateway.http.get("/fhir/Bundle", params=params, auth=DpopAuth(token, dpop))

    assert refreshed.status_code == 200 and counted.commits == 1, counted
    reloads = [s for s in counted.statements if s.startswith(RELOADS)]
    assert len(reloads) == 3, "\n".join(counted.statements)
    assert len(counted.statements) - len(reloads) <= 6, "\n".join(counted.statements)


#: The per-process caches' reloads (gateway.auth.store.DatabaseRevocations, court_requests.webhooks.Subscriptions).
RELOADS = (
    "SELECT revoked_tokens.jti",
    "SELECT clients.client_id, clients.revoked_at",
    "SELECT agencies.code, webhook_subscriptions.id",
)
