"""The issue-9 commands: ``assessment history`` (and, as they land, import, subject, retention)."""

from __future__ import annotations

import copy
import json

import pytest
from typer.testing import CliRunner

from gateway.cli import app
from gateway.config import get_settings
from gateway.db.engine import make_engine, make_session_factory
from gateway.keys import load_keyring
from tests.factories import add_agencies, example, publish


@pytest.fixture
def cli(settings, monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    run("init")
    yield run
    get_settings.cache_clear()


@pytest.fixture
def sessions(cli, database_url):
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    add_agencies(factory)
    yield factory
    engine.dispose()


def test_assessment_history_lists_versions_without_content(cli, sessions, settings):
    keyring = load_keyring(settings.data_dir / "keys")
    original = example()
    first = publish(sessions, keyring, original)
    amended = copy.deepcopy(original)
    amended["engagement"] = "Attended."
    publish(sessions, keyring, amended)
    out = cli("assessment", "history", first.assessment_id, "--json").output
    history = json.loads(out)
    assert [v["version"] for v in history] == [1, 2]
    assert history[0]["content_digest"] != history[1]["content_digest"]
    table = cli("assessment", "history", first.assessment_id).output
    assert "Hewitt" not in table and "9449305552" not in table
    assert "no assessment" in cli("assessment", "history", "nope", code=1).output
