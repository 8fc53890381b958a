"""``ld-gateway init``: database schema and keys, idempotently."""

from __future__ import annotations

from gateway.audit.log_key import load_or_create_log_key
from gateway.auth.signing import load_or_create_signing_key
from gateway.config import Settings
from gateway.db.engine import make_engine
from gateway.db.migrate import upgrade
from gateway.keys import load_or_create_keyring


def initialise(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_keyring(settings.keys_dir)
    load_or_create_signing_key(settings.keys_dir)
    load_or_create_log_key(settings.keys_dir)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
