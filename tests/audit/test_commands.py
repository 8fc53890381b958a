"""``ld-gateway audit checkpoint`` and the log key made at ``init``."""

from __future__ import annotations

import pytest

from gateway.audit.c2sp_note import open_checkpoint
from gateway.audit.log_key import LOG_KEY_FILE, log_signer
from gateway.config import get_settings
from gateway.db.engine import make_engine, make_session_factory
from tests.audit.test_log import _append
from tests.fixtures.keys import install_keys


@pytest.fixture
def cli(cli, monkeypatch, tmp_path):
    """The shared ``cli``, with checkpoints handed to a witness directory."""
    monkeypatch.setenv("GATEWAY_WITNESS_DIR", str(tmp_path / "witness"))
    get_settings.cache_clear()
    return cli


def test_checkpoint_command_signs_and_hands_to_the_witness(cli, settings, tmp_path, keys_template):
    # The session's other keys in place (init would spend most of a second on an RSA signing key); the
    # log key is init's to make.
    (install_keys(keys_template, settings.keys_dir) / LOG_KEY_FILE).unlink()
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
