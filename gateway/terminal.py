"""Terminal output that stays readable: long listings go through the user's pager when they would
scroll off an interactive terminal, and are printed plainly when piped or captured."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Sequence

import click
from rich.console import Console
from rich.table import Table


def page_lines(lines: Sequence[str]) -> None:
    """Print ``lines``; through ``$PAGER`` (``less`` by default) only when stdout is a terminal that
    cannot show them all at once."""
    text = "\n".join(lines) + "\n"
    height = shutil.get_terminal_size().lines
    if sys.stdout.isatty() and len(lines) >= height:
        click.echo_via_pager(text)
    else:
        click.echo(text, nl=False)


def page_table(console: Console, table: Table) -> None:
    """A rich table, rendered at the console's width, then paged like :func:`page_lines`."""
    with console.capture() as captured:
        console.print(table)
    page_lines(captured.get().rstrip("\n").splitlines())
