"""Commands that other packages add to ``ld-gateway``, through the entry point group ``ld_gateway.commands``.

Each entry point names a command and the typer command function behind it, e.g. in pyproject.toml::

    [project.entry-points."ld_gateway.commands"]
    import = "adapters.case_export.cli:import_export"

This is how an adapter (``adapters/``) offers a command without the gateway importing it: the gateway
knows only the group's name. Entry points are read from the installed package's metadata, so a change to
them takes effect after ``pip install -e .`` (``make install`` does it when pyproject.toml changes).
A command that fails to load fails the whole command line, loudly, rather than vanishing from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import typer

GROUP = "ld_gateway.commands"


def register(app: typer.Typer, found: Iterable[EntryPoint] | None = None) -> list[str]:
    """Add every command of the group to ``app`` (by name, in name order); the names added."""
    names: list[str] = []
    for entry in sorted(entry_points(group=GROUP) if found is None else found, key=lambda e: e.name):
        app.command(entry.name)(entry.load())
        names.append(entry.name)
    return names
