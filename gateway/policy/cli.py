"""``ld-gateway policy ...``: test the Rego policy, show and compare what it releases, store, show and
activate revisions (registered on the root command in gateway/cli.py)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from gateway import cli_support
from gateway.cli_support import console, err_console
from gateway.terminal import page_lines, page_table

if TYPE_CHECKING:
    from gateway.config import Settings
    from gateway.policy.source import PolicySource

policy_app = typer.Typer(help="The disclosure policy (Rego).", no_args_is_help=True)


@policy_app.command("test")
def policy_test() -> None:
    """Run the Rego unit tests; fail when any test fails or any rule is never exercised."""
    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy.rego_tests import format_report, run_rego_tests

    settings = cli_support.settings()
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    report = run_rego_tests(settings.resolved_policy_dir(), catalogue.ids)
    for line in format_report(report):
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


@policy_app.command("matrix")
def policy_matrix(
    as_json: bool = typer.Option(False, "--json", help="A JSON list of rows."),
    as_csv: bool = typer.Option(False, "--csv", help="CSV: one line per cell and field."),
    as_html: bool = typer.Option(False, "--html", help="A self-contained HTML page for IG sign-off."),
    wide: bool = typer.Option(False, "--wide", help="The full table: a row per agency type, purpose, consent, age."),
    agency_type: list[str] = typer.Option(
        [], "--agency-type", metavar="TYPE", help="Only this agency type (police, court...); repeatable."
    ),
) -> None:
    """Which fields each agency type sees at each purpose, by consent state and age group.

    By default a compact grid (one table per agency type, 80 columns wide) with a key; long output goes
    through your pager ($PAGER) when the terminal is too short for it.
    """
    from datetime import UTC, datetime

    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy.editions import changes_from_first_edition, load_first_edition
    from gateway.policy.loader import load_engine
    from gateway.policy.matrix import compute_matrix, matrix_csv, matrix_decisions, matrix_rows
    from gateway.policy.matrix_grid import format_grid
    from gateway.policy.matrix_html import render_matrix_html

    if sum((as_json, as_csv, as_html, wide)) > 1:
        raise typer.BadParameter("give at most one of --json, --csv, --html, --wide")
    settings = cli_support.settings()
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    engine = load_engine(settings, catalogue.ids, source=_active_policy_source(settings))
    if as_html:
        first = load_first_edition(settings.resolved_policy_dir())
        with _matrix_or_exit():
            decisions = matrix_decisions(engine)  # asked once, for the page and for its changes
            rows = matrix_rows(decisions, catalogue.ids)
            changes = changes_from_first_edition(rows, first) if first is not None else []
            page = render_matrix_html(
                decisions,
                field_titles={f.id: f.title for f in catalogue},
                revision=engine.revision,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                edition_changes=changes,
            )
        typer.echo(page, nl=False)
        return
    with _matrix_or_exit():
        rows = compute_matrix(engine)
    if agency_type:
        unknown = sorted(set(agency_type) - {r["agency_type"] for r in rows})
        if unknown:
            raise typer.BadParameter(f"no such agency type: {', '.join(unknown)}", param_hint="--agency-type")
        rows = [r for r in rows if r["agency_type"] in agency_type]
    if as_csv:
        typer.echo(matrix_csv(rows), nl=False)
        return
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not wide:
        page_lines(format_grid(rows, [f.id for f in catalogue], width=max(40, shutil.get_terminal_size().columns)))
        return
    table = Table(title="Released fields by agency type, purpose, consent and age group")
    for column in ("agency type", "purpose", "consent", "age"):
        table.add_column(column, no_wrap=True)
    table.add_column("released", overflow="fold")  # field ids wrap between ids, never cut short
    table.add_column("withheld", justify="right")
    for row in rows:
        table.add_row(
            row["agency_type"],
            row["purpose"],
            row["consent"],
            row["age_group"],
            ", ".join(row["released"]) or "(refused)",
            str(len(row["withheld"])),
        )
    # The full table is for a wide window, a file or a pager: never squeezed into 80 columns.
    page_table(Console(width=max(console.width, 200)), table)


@policy_app.command("diff")
def policy_diff(
    a: str = typer.Argument(..., help="The policy before: a directory, or a stored revision (sha256:...)."),
    b: str = typer.Argument(..., help="The policy after: a directory, or a stored revision (sha256:...)."),
    as_json: bool = typer.Option(False, "--json", help="A JSON list of changes."),
) -> None:
    """Whose view of which field changes from policy A to policy B (every matrix question asked of both)."""
    import tempfile

    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy.diff import diff_decisions, format_diff
    from gateway.policy.engine import EmbeddedRegoEngine, PolicyLoadError
    from gateway.policy.matrix import matrix_decisions

    catalogue = load_catalogue(cli_support.settings().resolved_schema_dir() / "field-catalogue.json")
    with tempfile.TemporaryDirectory(prefix="ld-gateway-diff-") as scratch:
        try:
            before, after = (EmbeddedRegoEngine(_policy_source(p, Path(scratch)), catalogue.ids) for p in (a, b))
        except PolicyLoadError as exc:
            err_console.print(f"error: {exc}")
            raise typer.Exit(1) from None
    with _matrix_or_exit():
        changes = diff_decisions(matrix_decisions(before), matrix_decisions(after))
    if as_json:
        typer.echo(
            json.dumps(
                {"from": before.revision, "to": after.revision, "changes": [c.as_json() for c in changes]}, indent=2
            )
        )
        return
    typer.echo(f"from {before.revision}\n  to {after.revision}")
    for line in format_diff(changes):
        typer.echo(line)


@contextmanager
def _matrix_or_exit() -> Iterator[None]:
    """The engine failed on a matrix question (an OPA timeout, the embedded engine's thread busy): one
    line on stderr and exit 2, with nothing on stdout; never a matrix that shows the failure as a refusal."""
    from gateway.policy.matrix import MatrixIncomplete

    try:
        yield
    except MatrixIncomplete as exc:
        typer.echo(f"error: {exc}; nothing was printed: try again", err=True)
        raise typer.Exit(2) from None


def _active_policy_source(settings: Settings) -> PolicySource | None:
    """The activated stored revision, as the gateway would serve it; None without one (or a database)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.policy.store import active_policy_source

    try:
        return cli_support.read(lambda tx: active_policy_source(tx, settings.data_dir))
    except SQLAlchemyError:  # no database yet: the configured directory is the policy
        return None


def _policy_source(spec: str, scratch: Path) -> Path | PolicySource:
    """A policy directory, or a stored revision as its stored bytes (its files written under ``scratch``)."""
    from gateway.policy.engine import PolicyLoadError
    from gateway.policy.store import materialise_source

    if spec.startswith("sha256:"):
        return cli_support.read(lambda tx: materialise_source(tx, spec, scratch))
    path = Path(spec)
    if not path.is_dir():
        raise PolicyLoadError(f"{spec}: neither a policy directory nor a stored revision")
    return path


@policy_app.command("store")
def policy_store(
    directory: Path | None = typer.Option(None, "--dir", help="The policy directory; default GATEWAY_POLICY_DIR."),
) -> None:
    """Store a policy directory as a revision (idempotent); prints the revision alone on the last line."""
    from datetime import UTC, datetime

    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy.engine import EmbeddedRegoEngine, PolicyLoadError
    from gateway.policy.source import read_policy
    from gateway.policy.store import store_policy

    settings = cli_support.settings()
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    now = datetime.now(UTC)
    try:
        source = read_policy(directory or settings.resolved_policy_dir(), catalogue.ids)
        EmbeddedRegoEngine(source, catalogue.ids)  # only a policy that loads and answers may be stored
        # Exactly the bytes that loaded: the directory is read once, for the engine and the store alike.
        revision = cli_support.write(lambda tx: store_policy(tx, source, now))
    except PolicyLoadError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(1) from None
    typer.echo(revision)


@policy_app.command("revisions")
def policy_revisions() -> None:
    """List stored policy revisions; the one in force is marked."""
    from gateway.policy.store import active_revision, list_revisions

    active, revisions = cli_support.read(lambda tx: (active_revision(tx), list_revisions(tx)))
    for r in revisions:
        mark = "*" if r.revision == active else " "
        when = f"activated {r.activated_at:%Y-%m-%d %H:%M} by {r.activated_by}" if r.activated_at else "never activated"
        typer.echo(f"{mark} {r.revision}  stored {r.created_at:%Y-%m-%d %H:%M}  {when}")


@policy_app.command("show")
def policy_show(
    revision: str = typer.Argument(..., help="A stored revision (sha256:...): a log entry's policy_revision."),
    as_json: bool = typer.Option(False, "--json", help="The revision whole: its files, catalogue ids and dates."),
    out: Path | None = typer.Option(None, "--out", help="Write its files under this directory (hash checked)."),
) -> None:
    """Show a stored policy revision: what decided every disclosure whose log entry names it."""
    from gateway.policy.engine import PolicyLoadError
    from gateway.policy.store import materialise, read_revision

    stored = cli_support.read(lambda tx: read_revision(tx, revision))
    if stored is None:
        err_console.print(f"error: no stored policy revision {revision}")
        raise typer.Exit(1)
    if out is not None:
        try:
            target = cli_support.read(lambda tx: materialise(tx, revision, out))
        except PolicyLoadError as exc:
            err_console.print(f"error: {exc}")
            raise typer.Exit(1) from None
        typer.echo(str(target))
        return
    if as_json:
        typer.echo(json.dumps(stored.as_json(), indent=2, ensure_ascii=False))
        return
    when = f"activated {stored.activated_at:%Y-%m-%d %H:%M} by {stored.activated_by}" if stored.activated_at else ""
    typer.echo(f"{stored.revision}  stored {stored.created_at:%Y-%m-%d %H:%M}  {when}".rstrip())
    typer.echo(f"catalogue: {len(stored.catalogue_ids)} fields")
    for name, text in sorted(stored.files.items()):
        typer.echo(f"\n==> {name} <==\n{text}", nl=not text.endswith("\n"))


@policy_app.command("activate")
def policy_activate(
    revision: str = typer.Argument(..., help="A stored revision (sha256:...)."),
    by: str = typer.Option(..., "--by", help="Who authorised it (the IG lead), recorded with the revision."),
) -> None:
    """Put a stored revision in force (gateways use it from their next start). Logged in the disclosure log."""
    from datetime import UTC, datetime

    from gateway.policy.store import activate

    try:
        cli_support.write(lambda tx: activate(tx, revision, by=by, now=datetime.now(UTC)))
    except LookupError as exc:  # rolled back: nothing was activated, nothing logged
        err_console.print(f"error: {exc.args[0]}")
        raise typer.Exit(1) from None
    console.print(f"Policy revision {revision} activated; restart gateways to serve it.")
