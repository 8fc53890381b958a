"""What every ``ld-gateway`` command module shares: the consoles, and units of work on the configured database.

Command modules live beside the concern they drive (``auth/cli.py``, ``ig/cli.py``, ...); they take these
from here rather than from ``gateway.cli``, which imports them all to register their commands. A command
runs its database work through :func:`write` or :func:`read` (:mod:`gateway.db.unit_of_work`): it never
opens, commits or rolls back a transaction itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from rich.console import Console

if TYPE_CHECKING:  # every `ld-gateway` command loads this module; the database's come when a command runs
    from sqlalchemy.orm import Session, sessionmaker

    from gateway.config import Settings

T = TypeVar("T")

console = Console()
err_console = Console(stderr=True)


def settings() -> Settings:
    """The settings (GATEWAY_* variables), read when a command first needs them: ``--help`` reads none."""
    from gateway.config import get_settings

    return get_settings()


def sessions() -> sessionmaker[Session]:
    """Sessions on the configured database (GATEWAY_DATABASE_URL)."""
    from gateway.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(settings().database_url))


def write(work: Callable[[Session], T]) -> T:
    """``work`` in one write transaction on the configured database: committed when it returns, rolled
    back when it raises (``typer.Exit`` included)."""
    from gateway.db import unit_of_work

    return unit_of_work.run(sessions(), work)


def read(work: Callable[[Session], T], *, snapshot: bool = False) -> T:
    """``work`` in one read-only transaction (on SQLite, no write lock: a serving gateway is not held up);
    ``snapshot``: one view of the database for all of it (see :func:`gateway.db.unit_of_work.read`)."""
    from gateway.db import unit_of_work

    return unit_of_work.read(sessions(), work, snapshot=snapshot)
