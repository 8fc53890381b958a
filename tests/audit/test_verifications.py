"""Every verification of the log is recorded, whoever ran it, so the IG dashboard can say when it was last
checked: ``ld-gateway audit verify`` by hand or on a schedule, and the IG integrity page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.audit import verifications
from gateway.db.engine import make_engine, make_session_factory
from tests.audit.test_log import _append


@pytest.fixture
def sessions(cli, settings):
    cli("init")
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_the_command_records_each_verification_and_the_latest_wins(cli, sessions):
    with sessions() as session:
        assert verifications.latest(session) is None
    _append(sessions, 3)
    cli("audit", "verify")
    with sessions() as session:
        first = verifications.latest(session)
    assert first is not None
    assert (first.source, first.status, first.entries, first.failure) == ("cli", "intact", 3, None)
    assert first.source_words == "the ld-gateway audit verify command"

    cli("audit", "verify", "--scheduled", "--json")
    with sessions() as session:
        latest = verifications.latest(session)
        assert [v.source for v in verifications.recent(session)] == ["schedule", "cli"]
    assert latest is not None and latest.id != first.id and latest.verified_at >= first.verified_at


def test_a_failed_verification_is_recorded_as_failed(cli, sessions, settings):
    from sqlalchemy import update

    from gateway.db.models import DisclosureLogEntry

    _append(sessions, 2)
    with sessions.begin() as session:
        session.execute(update(DisclosureLogEntry).where(DisclosureLogEntry.seq == 1).values(purpose="sentencing"))
    cli("audit", "verify", code=1)
    with sessions() as session:
        latest = verifications.latest(session)
    assert latest is not None and latest.status == "failed" and latest.failure


def test_records_order_by_time_and_refuse_an_unknown_status(sessions):
    now = datetime.now(UTC)
    with sessions.begin() as session:
        verifications.record(
            session,
            source=verifications.Source.IG_PAGE,
            verified_at=now,
            status="intact",
            entries=5,
            checkpoints=1,
            run_by="Demo IG administrator",
        )
        verifications.record(
            session,
            source=verifications.Source.CLI,
            verified_at=now - timedelta(hours=1),
            status="intact",
            entries=4,
            checkpoints=1,
        )
        with pytest.raises(ValueError):
            verifications.record(
                session, source=verifications.Source.CLI, verified_at=now, status="fine", entries=0, checkpoints=0
            )
    with sessions() as session:
        latest = verifications.latest(session)
    assert latest is not None and latest.source == "ig-page" and latest.run_by == "Demo IG administrator"
