"""``ld-gateway`` commands for getting assessments in and keeping the records right (issue 9):
``assessment history``, ``import``, ``subject merge|unmerge``, ``retention run``."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from gateway.config import get_settings

assessment_app = typer.Typer(help="Published assessments and their versions.", no_args_is_help=True)

console = Console()
err_console = Console(stderr=True)


def _session() -> Session:
    from gateway.db.engine import make_engine, make_session_factory

    return make_session_factory(make_engine(get_settings().database_url))()


@assessment_app.command("history")
def assessment_history(
    assessment_id: str = typer.Argument(..., help="The assessment's id (as POST /assessments answered)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List an assessment's versions, oldest first: when each was published, and a keyed digest of its
    content (equal digests, equal content). No content is shown."""
    from gateway.assessments.store import version_history

    with _session() as session:
        versions = version_history(session, assessment_id)
    if not versions:
        err_console.print("error: no assessment with this id")
        raise typer.Exit(1)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "version": v.version,
                        "created_at": v.created_at.isoformat(),
                        "content_digest": v.content_digest,
                        "erased": v.erased,
                    }
                    for v in versions
                ]
            )
        )
        return
    table = Table("version", "published", "content digest", "erased")
    for v in versions:
        table.add_row(str(v.version), v.created_at.isoformat(), v.content_digest[:16], "yes" if v.erased else "")
    console.print(table)
