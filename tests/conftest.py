"""What every test may ask for. The fixtures themselves live in tests/fixtures/ (see its docstring):
databases migrated once per session and copied per test, keys made once per session, a whole gateway.

PostgreSQL tests use the server named by GATEWAY_TEST_DATABASE_URL (CI sets it); without it, or with the
server unreachable, they skip and say why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gateway.config import Settings
from tests.fixtures import ROOT
from tests.fixtures.databases import (
    PG_ENV,
    create_pg_database,
    database_url,
    db_engine,
    pg_database_url,
    pg_session_database,
    session_factory,
    sqlite_template,
)
from tests.fixtures.gateway import agency_key, gateway, gateway_policy, gateway_set_ups
from tests.fixtures.keys import keys_template
from tests.fixtures.parallel import pytest_collection_modifyitems, pytest_xdist_make_scheduler
from tests.fixtures.reporting import pytest_terminal_summary
from tests.fixtures.servers import drop_demo_templates

__all__ = [
    "PG_ENV",
    "ROOT",
    "agency_key",
    "cli",
    "create_pg_database",
    "database_url",
    "db_engine",
    "gateway",
    "gateway_policy",
    "gateway_set_ups",
    "keys_template",
    "pg_database_url",
    "pg_session_database",
    "pytest_collection_modifyitems",
    "pytest_terminal_summary",
    "pytest_xdist_make_scheduler",
    "session_factory",
    "settings",
    "sqlite_template",
]


def pytest_sessionfinish(session: pytest.Session) -> None:
    drop_demo_templates(session.config)  # the e2e servers' PostgreSQL template, once every worker is done


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        issuer="http://testserver",
        policy_dir=ROOT / "policies",
        schema_dir=ROOT / "schemas",
    )


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., object]]:
    """Run ``ld-gateway`` in process against ``settings``' database and data dir; ``code`` is the exit
    code expected (anything else fails the test with the output); ``stdin`` is typed at its prompts."""
    from typer.testing import CliRunner

    from gateway.cli import app
    from gateway.config import get_settings

    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0, stdin: str | None = None):
        result = runner.invoke(app, list(args), input=stdin)
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    yield run
    get_settings.cache_clear()
