"""``ld-gateway import``: the case-system export adapter's command.

The gateway never imports its adapters; this command reaches ``ld-gateway`` through the entry point group
``ld_gateway.commands`` (declared in pyproject.toml, loaded by :mod:`gateway.cli_plugins`), so the
dependency points from the adapter to the gateway, as for every other edge.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from gateway import cli_support
from gateway.cli_support import console, err_console


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
    # Imported here, not at the top: every `ld-gateway` command loads this module to register it.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from adapters.case_export.importer import import_rows
    from adapters.case_export.reader import ExportError, read_rows
    from gateway.assessments.catalogue import load_catalogue
    from gateway.assessments.validation import load_schema
    from gateway.auth.registry import get_agency
    from gateway.auth.vocab import AgencyType
    from gateway.db import unit_of_work
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.ingest.text_screen import text_screen
    from gateway.keys import load_keyring
    from gateway.policy.loader import load_engine
    from gateway.policy.store import active_policy_source

    settings = cli_support.settings()
    try:
        rows = list(read_rows(file, fmt))
    except (ExportError, OSError) as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    publisher = unit_of_work.read(sessions, lambda tx: get_agency(tx, agency))
    is_ld_service = publisher is not None and publisher.type == AgencyType.LD_SERVICE.value
    if not is_ld_service:
        engine.dispose()
        err_console.print("error: --agency must name a registered L&D service (type ld-service)")
        raise typer.Exit(2)
    # The policy in force decides which text police and the CPS can receive (screened for diagnoses).
    schema_dir = settings.resolved_schema_dir()
    catalogue = load_catalogue(schema_dir / "field-catalogue.json")
    active = unit_of_work.read(sessions, lambda tx: active_policy_source(tx, settings.data_dir))
    policy = load_engine(settings, catalogue.ids, source=active)
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
                schema=load_schema(schema_dir),
                agency_code=agency,
                dry_run=dry_run,
                on_row=lambda _row: progress.advance(task),
                screen=text_screen(policy, catalogue, schema_dir),
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
    warned = [row for row in result.rows if row.warnings]
    if warned:
        table = Table("line", "record_id", "column", "warning", title="Rows accepted with warnings")
        for row in warned:
            for column, message in row.warnings:
                table.add_row(str(row.line), row.record_id or "", column, message)
        console.print(table)
    if report is not None:
        report.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    if result.errors:
        raise typer.Exit(1)
