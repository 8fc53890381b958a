"""What every ``ld-gateway`` command module shares: the consoles and sessions on the configured database.

Command modules live beside the concern they drive (``auth/cli.py``, ``ig/cli.py``, ...); they take these
from here rather than from ``gateway.cli``, which imports them all to register their commands.
"""

from __future__ import annotations

from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker

from gateway.config import get_settings

console = Console()
err_console = Console(stderr=True)


def sessions() -> sessionmaker[Session]:
    """Sessions on the configured database (GATEWAY_DATABASE_URL)."""
    from gateway.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().database_url))


def session() -> Session:
    return sessions()()
