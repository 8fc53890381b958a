"""``ld-gateway audit checkpoint`` and the log key made at ``init``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from gateway.audit.c2sp_note import open_checkpoint
from gateway.audit.log_key import log_signer
from gateway.cli import app
from gateway.config import get_settings
from gateway.db.engine import make_engine, make_session_factory
from tests.audit.test_log import _append


@pytest.fixture
def cli(settings, monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("GATEWAY_WITNESS_DIR", str(tmp_path / "witness"))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (args, result.output, result.exception)
        return result

    yield run
    get_settings.cache_clear()


def test_checkpoint_command_signs_and_hands_to_the_witness(cli, settings, tmp_path):
    cli("audit", "checkpoint", code=2)  # no key before init
    cli("init")
    key = settings.keys_dir / "log-signing.pem"
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "empty" in cli("audit", "checkpoint").output
    engine = make_engine(settings.database_url)
    try:
        _append(make_session_factory(engine), 3)
    finally:
        engine.dispose()
    out = cli("audit", "checkpoint").stdout
    checkpoint = open_checkpoint(out, log_signer(get_settings()).verifier)
    assert checkpoint.size == 3
    assert (tmp_path / "witness" / "checkpoint.3").read_text() == out
    assert cli("audit", "checkpoint").stdout == out  # nothing new: the same checkpoint, not another
