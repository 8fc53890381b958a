"""Many disclosures at once keep one verifiable chain: a behaviour the first security review relied on,
pinned (it passed when written)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.audit import log
from gateway.audit.events import AuditEvent
from gateway.audit.verify import verify_rows
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import AgencyType, Purpose
from gateway.db.models import DisclosureLogEntry
from tests.factories import in_threads

NHS = "9449305552"
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"


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

    def work(i: int) -> None:
        for _ in range(6):
            assert svc.search(ctx, NHS_SYSTEM, NHS, "http://testserver/fhir/Bundle").status == 200
            assert svc.search(ctx, NHS_SYSTEM, "9000000009", "http://x").status == 404
            svc.refuse(None, AuditEvent.BUNDLE_DENIED, "invalid_token:test", 401, b"{}")

    errors = in_threads(6, work)
    assert not errors, errors
    with gateway.sessions() as session:
        result = verify_rows(log.iter_rows(session), log.read_head(session))
        seqs = list(session.execute(select(DisclosureLogEntry.seq).order_by(DisclosureLogEntry.seq)).scalars())
    assert result.ok, result.failure
    assert seqs == list(range(6 * 6 * 3))
