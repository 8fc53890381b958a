"""Fail-open on SQLite: an override's expiry given with an offset ends at that instant on both databases,
and the log entries carry it in UTC whatever the offset sent or the PostgreSQL session's TimeZone.

SQLite's DateTime keeps the wall time and drops the offset: 12:00+01:00 stored as given came back as
12:00 UTC, so in British Summer Time an override stayed in force an hour past its expiry. PostgreSQL's
json_build_object renders a timestamptz in the session's TimeZone, so entry bytes depended on it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import event, select

from gateway.assessments.provenance import _overrides_json
from gateway.db.models import Assessment
from gateway.overrides.store import facts_for_assessment
from gateway.overrides.validation import validate_override
from tests.overrides.test_override_flow import entries, override_body, pull, record, republish

BST = timezone(timedelta(hours=1))


def test_fail_open_on_sqlite_validation_keeps_an_offset_expiry_as_its_utc_instant():
    now = datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    body = {**override_body(), "expires_at": "2026-07-01T12:00:00+01:00"}

    request, problems = validate_override(body, now=now, agency_types={"POL-NE": "police"})

    assert problems == [] and request is not None
    assert request.expires_at == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    assert request.expires_at.utcoffset() == timedelta(0)


def test_fail_open_on_sqlite_an_offset_expiry_ends_at_its_instant(gateway):
    republish(gateway, status="declined")
    now = datetime.now(UTC).replace(microsecond=0)
    expires = (now + timedelta(hours=2)).astimezone(BST)  # sent as a BST wall time
    assert record(gateway, override_body(expires_at=expires.isoformat())).status_code == 201

    with gateway.sessions() as session:
        (facts,) = facts_for_assessment(session, gateway.published.assessment_id)
    assert facts.expires_at == expires, "stored and read back as the same instant"

    disclosures = gateway.app.state.gateway.disclosures
    disclosures._clock = lambda: expires - timedelta(seconds=1)
    _, _, before = pull(gateway, "POL-NE", "charging")
    disclosures._clock = lambda: expires + timedelta(seconds=1)
    _, _, after = pull(gateway, "POL-NE", "charging")

    assert before["overrides"] and before["ig_review"] is True
    assert after["overrides"] == [] and after["ig_review"] is False, "an hour past expiry it must not apply"
    (recorded,) = [e for e in entries(gateway) if e["event"] == "ingest:override:recorded"]
    in_utc = expires.astimezone(UTC).isoformat()
    assert recorded["lawful_basis"][0]["expires_at"] == before["lawful_basis"][1]["expires_at"] == in_utc


@pytest.mark.parametrize("zone", ["Europe/London", "America/New_York"])
def test_fail_open_on_sqlite_entry_bytes_do_not_depend_on_the_postgresql_session_time_zone(gateway, zone):
    engine = gateway.app.state.gateway.sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL session setting")

    def set_zone(dbapi_connection, connection_record, connection_proxy) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET TIME ZONE '{zone}'")
        # A session setting outlives the commit; leaving its transaction open would hand the gateway a
        # connection already in a transaction (a read unit's READ ONLY could not then be set).
        dbapi_connection.commit()

    republish(gateway, status="declined")
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1, hours=3)
    event.listen(engine, "checkout", set_zone)
    try:
        assert record(gateway, override_body(expires_at=expires.isoformat())).status_code == 201
        _, _, entry = pull(gateway, "POL-NE", "charging")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SHOW TimeZone").scalar() == zone
    finally:
        event.remove(engine, "checkout", set_zone)

    assert entry["lawful_basis"][1]["expires_at"] == expires.isoformat()
    with engine.connect() as conn:  # the rendering itself, before any normalising in Python
        conn.exec_driver_sql(f"SET TIME ZONE '{zone}'")
        (rendered,) = conn.execute(select(_overrides_json("postgresql")).select_from(Assessment)).scalar_one()
    assert rendered["expires_at"] == expires.replace(tzinfo=None).isoformat()
