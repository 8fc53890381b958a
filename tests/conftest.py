"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL tests use the server named by GATEWAY_TEST_DATABASE_URL (CI sets it); each test session
creates its own throw-away database there, so parallel runs never see each other's rows. Without the
variable, or with the server unreachable, those tests skip and say why.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import Settings
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.migrate import upgrade
from gateway.db.models import Base

ROOT = Path(__file__).resolve().parent.parent
PG_ENV = "GATEWAY_TEST_DATABASE_URL"


def create_pg_database() -> tuple[str, Callable[[], None]]:
    """A new, empty PostgreSQL database on the server at GATEWAY_TEST_DATABASE_URL, and its dropper.

    Skips the calling test (with the reason) when no server is configured or reachable.
    """
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"PostgreSQL tests need {PG_ENV} (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"ldg_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the server is down or refuses us: say so, don't fail obscurely
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_ENV} is not usable: {exc.__class__.__name__}: {exc}")

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()

    return make_url(base).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    url, drop = create_pg_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    drop()


def _truncate_all(engine: Engine) -> None:
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        # The migration's seed row, as a fresh database has it.
        conn.execute(text("INSERT INTO log_head (id, size, head_hash) VALUES (1, 0, :h)"), {"h": "0" * 64})


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: SQLite file per test, or the session's PostgreSQL, truncated."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gateway.db'}"
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url
    url = request.getfixturevalue("pg_database_url")
    engine = make_engine(url)
    _truncate_all(engine)
    engine.dispose()
    return url


@pytest.fixture
def db_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(db_engine)


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
