"""Behaviour the review relied on that no test pinned yet; these pass today."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.audit import log
from gateway.audit.events import AuditEvent
from gateway.audit.verify import verify_rows
from gateway.auth.clients import ClientRecord
from gateway.auth.rfc9068 import AccessContext, issue_access_token
from gateway.auth.vocab import AgencyType, Purpose, Scope
from gateway.db.models import DisclosureLogEntry

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
NAME = "Hewitt"


def _count(gateway) -> int:
    with gateway.sessions() as session:
        return session.execute(select(func.count()).select_from(DisclosureLogEntry)).scalar_one()


def test_parallel_disclosures_keep_one_verifiable_chain(gateway):
    """The whole hot path (several appends per transaction, refusals in their own) from 6 threads at once:
    dense seq, one chain, head matches, on SQLite (BEGIN IMMEDIATE) and PostgreSQL (log_head FOR UPDATE)."""
    svc = gateway.app.state.gateway.disclosures
    ctx = AccessContext(
        gateway.clients["POL-NE"],
        "POL-NE",
        AgencyType.POLICE,
        Purpose.CHARGING,
        "j",
        datetime.now(UTC) + timedelta(minutes=5),
    )
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(6):
                assert svc.search(ctx, NHS_SYSTEM, NHS, "http://testserver/fhir/Bundle").status == 200
                assert svc.search(ctx, NHS_SYSTEM, "9000000009", "http://x").status == 404
                svc.refuse(None, AuditEvent.BUNDLE_DENIED, "invalid_token:test", 401, b"{}")
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with gateway.sessions() as session:
        result = verify_rows(log.iter_rows(session), log.read_head(session))
        seqs = list(session.execute(select(DisclosureLogEntry.seq).order_by(DisclosureLogEntry.seq)).scalars())
    assert result.ok, result.failure
    assert seqs == list(range(6 * 6 * 3))


def _token(gateway, **overrides) -> str:
    signing_key = gateway.app.state.gateway.signing_key
    client = ClientRecord(
        gateway.clients["POL-NE"], "POL-NE", AgencyType.POLICE, (Purpose.CHARGING,), None, None, False
    )
    args = {
        "signing_key": signing_key,
        "issuer": gateway.settings.issuer,
        "audience": gateway.settings.resource_audience,
        "client": client,
        "purpose": Purpose.CHARGING,
        "scopes": [Scope.BUNDLE_READ],
    }
    args.update(overrides)
    return issue_access_token(**args)[0]


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("wrong-audience", 401),
        ("wrong-issuer", 401),
        ("expired", 401),
        ("no-read-scope", 403),
        ("ld-service-token", 403),
    ],
)
def test_tokens_signed_by_the_real_key_but_wrong_get_nothing_and_are_logged(gateway, case, status):
    overrides = {
        "wrong-audience": {"audience": "http://testserver/other"},
        "wrong-issuer": {"issuer": "http://elsewhere"},
        "expired": {"now": lambda: time.time() - 600},
        "no-read-scope": {"scopes": [Scope.TASK_READ]},
        "ld-service-token": {},
    }[case]
    if case == "ld-service-token":
        kwargs: dict = {"auth": gateway.auth("LD-NE", "ld-service")}
    else:
        kwargs = {"headers": {"Authorization": f"Bearer {_token(gateway, **overrides)}"}}
    before = _count(gateway)
    for url in (
        f"/fhir/Bundle?patient.identifier={NHS_SYSTEM}|{NHS}",
        f"/fhir/Bundle/{gateway.published.assessment_id}",
    ):
        response = gateway.http.get(url, **kwargs)
        assert response.status_code == status
        assert NAME.encode() not in response.content and NHS.encode() not in response.content
        assert response.headers["x-disclosure-id"]
    assert _count(gateway) == before + 2
