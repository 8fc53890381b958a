"""Apply Alembic migrations to the configured database (idempotent)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

_MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def upgrade(engine: Engine, keys_dir: Path | None = None) -> None:
    """``keys_dir``: where the keys are, for migrations that re-key stored data (default: the settings')."""
    cfg = alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        if keys_dir is not None:
            cfg.attributes["keys_dir"] = keys_dir
        command.upgrade(cfg, "head")
        conn.commit()
