"""Fault injection at a reduced count (the full runs: `make faults`, see docs/security-testing.md).

Each run's checks are bench.faults.check: every 200 received has its log entry describing the bytes
received, `ld-gateway audit verify` passes, no partial assessment version exists.
"""

from __future__ import annotations

import pytest

from bench import faults
from bench.live import LiveGateway
from bench.private_pg import missing_reason

pytestmark = pytest.mark.e2e


def test_server_killed_with_sigkill_under_load_loses_no_log_entry():
    result = faults.kill_run(kills=2)
    assert result["answers"].get("200", 0) >= 20
    assert result["transport_errors"] > 0, "the kills must have cut requests off"
    assert result["problems"] == []


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_postgresql_outage_answers_503_and_recovers_by_itself():
    result = faults.pg_outage_run(outages=1)
    assert result["answers_while_down"].get("503", 0) > 0, result
    assert result["problems"] == []


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The checker run on made-up answers: each kind of loss it exists to find is reported."""
    gw = LiveGateway(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    assert gw.cli("init").returncode == 0
    load = faults.Load(gw)
    load.seen = [
        faults.Seen(200, ("00000000-0000-4000-8000-000000000000",), "ab" * 32, "Bundle"),
        faults.Seen(200, (), "ab" * 32, "Bundle"),
        faults.Seen(503, (), "ab" * 32, None),
    ]
    load.published = [("00000000-0000-4000-8000-000000000001", 1)]
    problems = faults.check(gw, load)
    assert any("too little load" in p for p in problems)
    assert any("is not in the log" in p for p in problems)
    assert any("a 200 without X-Disclosure-Id" in p for p in problems)
    assert any("neither a log entry nor an OperationOutcome" in p for p in problems)
    assert any("answered 201 but not stored" in p for p in problems)
