"""Fault injection at a reduced count (the full runs: `make faults`, see docs/security-testing.md).

Each run's checks are bench.faults.check: every 200 received has its log entry describing the bytes
received, `ld-gateway audit verify` passes, no partial assessment version exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from sqlalchemy.engine import make_url

from bench import faults
from bench.live import LiveGateway
from bench.private_pg import find_bin_dir, missing_reason
from tests.fixtures.databases import PG_ENV
from tests.fixtures.servers import copy_database, copy_demo, demo_template

pytestmark = pytest.mark.e2e


def the_runs_demo(tmp_path_factory: pytest.TempPathFactory, kind: str) -> faults.SetUp:
    """A run's gateway set up as a copy of the demo this test run has set up already (the e2e servers'),
    rather than by ``ld-gateway demo`` from nothing: the same rows and keys, without making them again."""

    def set_up(gw: LiveGateway) -> None:
        if kind == "sqlite":
            demo = copy_demo(tmp_path_factory, "sqlite", gw.workdir)
            assert demo.database_url == gw.database_url
            return
        # The private server is another server: the template is copied on its own server (nothing may
        # be connected to a template while others copy it), dumped from the copy, restored privately.
        template = demo_template(tmp_path_factory, "postgresql")
        copy, drop = copy_database(template, gw.workdir)
        try:
            bin_dir = find_bin_dir()
            assert bin_dir is not None
            libpq = [
                make_url(url).set(drivername="postgresql").render_as_string(False) for url in (copy, gw.database_url)
            ]
            dump = subprocess.run([bin_dir / "pg_dump", "-Fc", libpq[0]], capture_output=True, check=True, timeout=120)
            subprocess.run(
                [bin_dir / "pg_restore", "--no-owner", "--exit-on-error", "-d", libpq[1]],
                input=dump.stdout,
                capture_output=True,
                check=True,
                timeout=120,
            )
        finally:
            if drop is not None:
                drop()
        shutil.copytree(template.data_dir, gw.data_dir)

    return set_up


def test_server_killed_with_sigkill_under_load_loses_no_log_entry(tmp_path_factory):
    result = faults.kill_run(kills=2, set_up=the_runs_demo(tmp_path_factory, "sqlite"))
    assert result["answers"].get("200", 0) >= 20
    assert result["transport_errors"] > 0, "the kills must have cut requests off"
    assert result["problems"] == []


@pytest.mark.skipif(missing_reason() is not None, reason=str(missing_reason()))
def test_postgresql_outage_answers_503_and_recovers_by_itself(tmp_path_factory):
    # Without a PostgreSQL for the suite there is no demo template on it: the run sets its own up.
    set_up = the_runs_demo(tmp_path_factory, "postgresql") if os.environ.get(PG_ENV) else LiveGateway.setup
    result = faults.pg_outage_run(outages=1, set_up=set_up)
    assert result["answers_while_down"].get("503", 0) > 0, result
    assert result["problems"] == []


def test_the_checks_catch_what_they_look_for(tmp_path, tmp_path_factory):
    """The checker run on made-up answers: each kind of loss it exists to find is reported."""
    gw = LiveGateway(tmp_path, f"sqlite:///{tmp_path / 'gateway.db'}")
    the_runs_demo(tmp_path_factory, "sqlite")(gw)  # a gateway's database and keys, none of these answers in its log
    assert (gw.data_dir / "keys").is_dir(), "the gateway's keys (as init makes them) are in place"
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
