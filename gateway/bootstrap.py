"""``ld-gateway init``: database schema and keys, idempotently."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import witness
from gateway.audit.log_key import load_or_create_log_key
from gateway.auth.signing import load_or_create_signing_key
from gateway.config import Settings
from gateway.db import unit_of_work
from gateway.db.engine import make_engine, make_session_factory
from gateway.db.migrate import upgrade
from gateway.keys import load_or_create_keyring


def initialise(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    load_or_create_keyring(settings.keys_dir)
    # Loaded and checked, not only made if absent: an operator runs init to find out that the keys are
    # usable (mode 0600, a private key of an allowed algorithm), as it does for the log key below.
    load_or_create_signing_key(settings.keys_dir)
    load_or_create_log_key(settings.keys_dir)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, settings.keys_dir)
        _start_witness(settings, make_session_factory(engine))
    finally:
        engine.dispose()


def _start_witness(settings: Settings, sessions: sessionmaker[Session]) -> None:
    """The default witness is a directory outside the database (GATEWAY_DATA_DIR/witness); it is made here
    and handed the newest checkpoint, so that a later rollback of the database shows. Raises
    :class:`WitnessError` when the witness already saw more of the log than this database holds."""
    directory = settings.resolved_witness_dir
    if directory is None:
        return
    directory.mkdir(parents=True, mode=0o700, exist_ok=True)
    unit_of_work.read(sessions, lambda tx: witness.export_latest(tx, witness.DirectoryWitness(directory)))
