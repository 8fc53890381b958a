"""``ld-gateway`` commands for getting assessments in and keeping the records right (issue 9):
``assessment history``, ``import``, ``subject merge|unmerge``, ``retention run``."""

from __future__ import annotations

import json
from pathlib import Path

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


def import_export(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="A CSV or JSON-lines export (see docs/import.md)."
    ),
    agency: str = typer.Option(..., help="The L&D service the export belongs to (its agency code, e.g. LD-NE)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Map and validate every row; store nothing."),
    fmt: str | None = typer.Option(None, "--format", help="csv or jsonl (default: from the file's extension)."),
    report: Path | None = typer.Option(None, help="Also write the per-row report here as JSON."),
) -> None:
    """Import a case-system export: one assessment per row, straight into the store (not over HTTP).

    Re-importing is idempotent (unchanged rows make no new version). Exit 0 when every row was
    accepted, 1 when some rows were refused (the others are imported; see the report), 2 when the
    file cannot be read at all.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from sqlalchemy import select

    from adapters.case_export import ExportError, read_rows
    from adapters.case_export.importer import import_rows
    from gateway.assessments.validation import load_schema
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.db.models import Agency
    from gateway.keys import load_keyring

    settings = get_settings()
    try:
        rows = list(read_rows(file, fmt))
    except (ExportError, OSError) as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        publisher = session.execute(select(Agency).where(Agency.code == agency)).scalar_one_or_none()
    if publisher is None or publisher.type != "ld-service":
        engine.dispose()
        err_console.print("error: --agency must name a registered L&D service (type ld-service)")
        raise typer.Exit(2)
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("Checking" if dry_run else "Importing", total=len(rows))
            result = import_rows(
                rows,
                sessions=sessions,
                keyring=load_keyring(settings.keys_dir),
                schema=load_schema(settings.resolved_schema_dir()),
                agency_code=agency,
                dry_run=dry_run,
                on_row=lambda _row: progress.advance(task),
            )
    finally:
        engine.dispose()
    counts = result.to_json()["counts"]
    summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    console.print(f"{'Dry run' if dry_run else 'Imported'}: {len(rows)} rows ({summary or 'none'})")
    if result.errors:
        table = Table("line", "record_id", "column", "problem", title="Rows refused")
        for row in result.errors:
            for column, message in row.problems:
                table.add_row(str(row.line), row.record_id or "", column, message)
        console.print(table)
    if report is not None:
        report.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if result.errors:
        raise typer.Exit(1)
