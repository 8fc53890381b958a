"""The ``ld-gateway`` command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from gateway import cli_plugins, ingest_cli
from gateway.audit.commands import register as register_audit_commands
from gateway.auth.cli import keys_app, registering, token_key_app
from gateway.cli_help import PlainHelpGroup
from gateway.cli_support import console, err_console
from gateway.cli_support import session as _session
from gateway.config import Settings, get_settings
from gateway.court_requests.cli import webhook_app
from gateway.ig.cli import staff_app
from gateway.terminal import page_lines, page_table

app = typer.Typer(
    cls=PlainHelpGroup,
    help="ld-gateway: secure information sharing for Liaison and Diversion services.",
    no_args_is_help=True,
)
agency_app = typer.Typer(help="Partner agencies (police forces, courts, probation regions, ...).", no_args_is_help=True)
client_app = typer.Typer(help="Agencies' OAuth clients (signed-JWT client credentials).", no_args_is_help=True)
audit_app = typer.Typer(help="The disclosure log.", no_args_is_help=True)
policy_app = typer.Typer(help="The disclosure policy (Rego).", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(client_app, name="client")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
register_audit_commands(audit_app)
client_app.add_typer(keys_app, name="keys")
app.add_typer(token_key_app, name="token-key")
app.add_typer(webhook_app, name="webhook")
app.add_typer(staff_app, name="staff")
app.add_typer(ingest_cli.assessment_app, name="assessment")
cli_plugins.register(app)  # `ld-gateway import`, from adapters/case_export (pyproject.toml's entry points)
app.add_typer(ingest_cli.subject_app, name="subject")
app.add_typer(ingest_cli.retention_app, name="retention")


@app.command()
def init() -> None:
    """Create the database (Alembic upgrade) and the gateway's keys under GATEWAY_DATA_DIR. Idempotent."""
    from gateway.audit.witness import WitnessError
    from gateway.audit.witness import status as witness_status
    from gateway.bootstrap import initialise

    settings = get_settings()
    try:
        initialise(settings)
    except WitnessError as exc:
        err_console.print(f"[red]error:[/red] {exc}: the database is behind or forks from what its witness saw")
        err_console.print('Run `ld-gateway audit verify`; see docs/audit.md, "Rollback".')
        raise typer.Exit(1) from None
    console.print(f"Initialised: database {_safe_url(settings.database_url)}, keys in {settings.keys_dir}")
    console.print(witness_status(settings).summary(), highlight=False)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(
        1,
        min=1,
        help="Worker processes (uvicorn). More than one needs PostgreSQL: the log lock, replay and revocation "
        "state and notifications (LISTEN/NOTIFY) are shared there; SQLite serves one process.",
    ),
) -> None:
    """Run the API (uvicorn)."""
    from gateway import server
    from gateway.app import create_app
    from gateway.app_logging import configure_logging
    from gateway.keys import KeysMissing, load_keyring

    configure_logging()
    settings = get_settings()
    if workers > 1 and not settings.database_url.startswith("postgresql"):
        # Server-sent events reach only the process that committed on SQLite (no LISTEN/NOTIFY): refuse,
        # rather than serve some clients a stream that never hears of other processes' work.
        console.print("[red]--workers above 1 needs PostgreSQL (GATEWAY_DATABASE_URL=postgresql+psycopg://...)[/red]")
        raise typer.Exit(2)
    try:
        # Each worker builds its own application; check the keys once here so a missing init fails loudly.
        application = create_app(settings) if workers == 1 else load_keyring(settings.keys_dir)
    except KeysMissing as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    _serve_metrics(get_settings())
    if workers == 1:
        server.run(application, host, port)  # type: ignore[arg-type]
        return
    import uvicorn

    # Several processes under uvicorn's supervisor, each building its own application (worker_app).
    # As server.run: uvicorn's access log stays off (a search's query string holds an NHS number).
    uvicorn.run(
        "gateway.cli:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
    )


def worker_app() -> Any:
    """The application as each ``serve --workers N`` process builds it (uvicorn imports this by name)."""
    from gateway.app import create_app
    from gateway.app_logging import configure_logging

    configure_logging()
    return create_app(get_settings())


def _serve_metrics(settings: Settings) -> None:
    """Prometheus metrics on their own listener (GATEWAY_METRICS_ADDRESS), apart from the API."""
    import logging

    from prometheus_client import start_http_server

    listen = settings.metrics_listen
    if listen is None:
        return
    logger = logging.getLogger("gateway.metrics")
    try:
        start_http_server(listen[1], addr=listen[0])
    except OSError as exc:
        logger.warning(
            "metrics listener not started",
            extra={"fields": {"address": settings.metrics_address, "error": type(exc).__name__}},
        )
        return
    logger.info("metrics served", extra={"fields": {"address": settings.metrics_address}})


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    no_serve: bool = typer.Option(False, "--no-serve", help="Set up and print the tour, but do not serve."),
) -> None:
    """Initialise, load demo agencies, clients (keys under GATEWAY_DATA_DIR/demo-keys/) and assessments,
    print what to try, and serve."""
    from gateway.demo import load_demo, tour

    settings = get_settings()
    loaded = load_demo(settings)
    console.print(tour(loaded, f"http://{host}:{port}"), soft_wrap=True, highlight=False, markup=False)
    if not no_serve:
        serve(host=host, port=port, workers=1)


@agency_app.command("add")
def agency_add(
    code: str = typer.Option(..., help="Short unique code, e.g. POL-NE."),
    name: str = typer.Option(..., help="The agency's name."),
    type_: str = typer.Option(..., "--type", help="police|cps|court|probation|yot|health|ld-service"),
    ods_code: str | None = typer.Option(
        None,
        "--ods-code",
        help="The NHS organisation's ODS code (3-5 letters or digits); health and ld-service agencies only. "
        "Documents then name the organisation by it.",
    ),
) -> None:
    """Register a partner agency."""
    from gateway.auth import registry

    with registering() as session:
        agency = registry.add_agency(session, code, name, type_, ods_code=ods_code)
    ods = f", ODS {agency.ods_code}" if agency.ods_code else ""
    console.print(f"Agency {agency.code} ({agency.type}{ods}) added.")


@client_app.command("add")
def client_add(
    agency: str = typer.Option(..., help="The agency's code."),
    purpose: list[str] = typer.Option(..., help="A purpose of use this client may ask for; repeat for more."),
    jwks_file: Path | None = typer.Option(None, exists=True, help="A JWKS file with the client's public key(s)."),
    jwks_url: str | None = typer.Option(None, help="An HTTPS URL where the client publishes its JWKS."),
    generate_key: Path | None = typer.Option(None, help="Generate a key pair; write the private key (PEM) here."),
    alg: list[str] | None = typer.Option(
        None,
        help="An assertion algorithm this client may use; repeat for more. "
        "Default: RS512, RS384, PS256, ES256, ES384, EdDSA.",
    ),
    dpop: bool = typer.Option(
        True, "--dpop/--no-dpop", help="Require DPoP-bound tokens (RFC 9449); --no-dpop allows bearer tokens."
    ),
) -> None:
    """Register an OAuth client for an agency. Prints the client_id alone on the last line."""
    from gateway.auth import registry
    from gateway.auth.errors import UnknownAgency

    if sum(x is not None for x in (jwks_file, jwks_url, generate_key)) != 1:
        raise typer.BadParameter("give exactly one of --jwks-file, --jwks-url, --generate-key")
    if generate_key is not None and generate_key.exists():
        raise typer.BadParameter(f"{generate_key} exists; the gateway never overwrites a key file")
    with registering() as session:
        if registry.get_agency(session, agency) is None:
            raise UnknownAgency(f"no agency with code {agency!r}")
        jwks = json.loads(jwks_file.read_text()) if jwks_file is not None else None
        if generate_key is not None:
            jwks = {"keys": [registry.generate_client_key(generate_key)]}
        try:
            client = registry.add_client(
                session, agency, purpose, jwks=jwks, jwks_url=jwks_url, algorithms=alg or None, dpop_required=dpop
            )
        except Exception:
            if generate_key is not None:
                generate_key.unlink(missing_ok=True)  # a key for no client is only a liability
            raise
    if generate_key is not None:
        console.print(f"Private key written to {generate_key}; keep it secret (the gateway keeps only the public key).")
    typer.echo(client.client_id)


@client_app.command("revoke")
def client_revoke(client_id: str = typer.Argument(..., help="The client to revoke.")) -> None:
    """Revoke a client: it can get no new tokens, and its live tokens stop working."""
    from gateway.auth import registry

    with registering() as session:
        registry.revoke_client(session, client_id)
    console.print(f"Client {client_id} revoked.")


@audit_app.command("verify")
def audit_verify(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    from_checkpoint: int | None = typer.Option(
        None, "--from-checkpoint", help="Start at this signed checkpoint's size (entries before it are trusted)."
    ),
    key: Path | None = typer.Option(None, help="The log's verifier key (vkey file); default: the gateway's own key."),
    scheduled: bool = typer.Option(
        False, "--scheduled", help="Record this run as the scheduled check (cron, a systemd timer) rather than by hand."
    ),
) -> None:
    """Verify the whole disclosure log, its Merkle tree and every signed checkpoint, and that the log is
    neither behind nor forked from what its witness saw (GATEWAY_WITNESS_DIR, by default
    GATEWAY_DATA_DIR/witness). Exit 0 when intact; 1 naming the first bad entry, checkpoint or subtree.
    The result is recorded in the database, so the IG dashboard shows when the log was last checked."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from gateway.audit import log, witness
    from gateway.audit.c2sp_note import NoteVerifier
    from gateway.audit.log_key import log_signer
    from gateway.audit.verify_log import verify_log
    from gateway.keys import KeysMissing

    if key is not None:
        verifier: NoteVerifier | None = NoteVerifier.from_vkey(key.read_text(encoding="utf-8"))
    else:
        try:
            verifier = log_signer(get_settings()).verifier
        except KeysMissing:
            verifier = None  # entries still verify; any checkpoint will be reported as unverifiable
    witnessing = witness.status(get_settings())
    with _session() as session:
        head = log.read_head(session)
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, disable=as_json, transient=True) as bar:
            task = bar.add_task("entries", total=head[0] if head else None)
            result = verify_log(
                session,
                verifier,
                from_size=from_checkpoint,
                progress=lambda n: bar.update(task, completed=n),
                witnessed=witnessing.notes,
            )
    failure = result.failure
    _record_verification(result, scheduled=scheduled)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "ok": result.ok,
                    "entries": result.entries,
                    "checkpoints": result.checkpoints,
                    "from_checkpoint": result.start,
                    "head_hash": result.head_hash,
                    "root": result.root,
                    "witness": {
                        "kind": witnessing.kind,
                        "rollback_detectable": witnessing.rollback_detectable,
                        "checkpoints_held": len(witnessing.notes),
                        "newest_size": witnessing.newest,
                        "summary": witnessing.summary(),
                    },
                    "first_bad_entry": None
                    if failure is None
                    else {
                        "kind": failure.kind,
                        "seq": failure.seq,
                        "disclosure_id": failure.disclosure_id,
                        "problem": failure.problem,
                    },
                }
            )
        )
    elif result.ok:
        console.print(
            f"Disclosure log intact: {result.entries} entries ({result.entries - result.start} checked), "
            f"{result.checkpoints} signed checkpoints, root {result.root}, head {result.head_hash}"
        )
    else:
        console.print(f"[red]Disclosure log FAILED verification[/red] at {failure}")
    if not as_json:
        style = "yellow" if not witnessing.rollback_detectable else "default"
        console.print(f"[{style}]{witnessing.summary()}[/{style}]", highlight=False)
    if not result.ok:
        raise typer.Exit(1)


def _record_verification(result: Any, *, scheduled: bool) -> None:
    """Leave the result where the IG dashboard reads it. A database that refuses the write (a read-only
    replica) costs only the record: the verdict and the exit code stand."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from gateway.audit import verifications

    try:
        with _session() as session, session.begin():
            verifications.record(
                session,
                source=verifications.Source.SCHEDULE if scheduled else verifications.Source.CLI,
                verified_at=datetime.now(UTC),
                status="intact" if result.ok else "failed",
                entries=result.entries,
                from_size=result.start,
                checkpoints=result.checkpoints,
                head_hash=result.head_hash,
                failure=None if result.failure is None else str(result.failure),
            )
    except SQLAlchemyError as exc:
        err_console.print(f"warning: the result could not be recorded for the IG pages ({exc.__class__.__name__})")


@policy_app.command("test")
def policy_test() -> None:
    """Run the Rego unit tests; fail when any test fails or any rule is never exercised."""
    from gateway.assessments.catalogue import load_catalogue
    from gateway.policy.rego_tests import format_report, run_rego_tests

    settings = get_settings()
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
    from gateway.policy.matrix import compute_matrix, matrix_csv, matrix_decisions
    from gateway.policy.matrix_grid import format_grid
    from gateway.policy.matrix_html import render_matrix_html

    if sum((as_json, as_csv, as_html, wide)) > 1:
        raise typer.BadParameter("give at most one of --json, --csv, --html, --wide")
    settings = get_settings()
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    engine = load_engine(settings, catalogue.ids, policy_dir=_active_policy_dir(settings))
    if as_html:
        first = load_first_edition(settings.resolved_policy_dir())
        changes = changes_from_first_edition(compute_matrix(engine), first) if first is not None else []
        page = render_matrix_html(
            matrix_decisions(engine),
            field_titles={f.id: f.title for f in catalogue},
            revision=engine.revision,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            edition_changes=changes,
        )
        typer.echo(page, nl=False)
        return
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

    catalogue = load_catalogue(get_settings().resolved_schema_dir() / "field-catalogue.json")
    with tempfile.TemporaryDirectory(prefix="ld-gateway-diff-") as scratch:
        try:
            before, after = (EmbeddedRegoEngine(_policy_source(p, Path(scratch)), catalogue.ids) for p in (a, b))
        except PolicyLoadError as exc:
            err_console.print(f"error: {exc}")
            raise typer.Exit(1) from None
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


def _active_policy_dir(settings: Settings) -> Path | None:
    """The activated stored revision, as the gateway would serve it; None without one (or a database)."""
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.policy.store import active_policy_dir

    try:
        with _session() as session:
            return active_policy_dir(session, settings.data_dir)
    except SQLAlchemyError:  # no database yet: the configured directory is the policy
        return None


def _policy_source(spec: str, scratch: Path) -> Path:
    """A policy directory, or a stored revision materialised under ``scratch``."""
    from gateway.policy.engine import PolicyLoadError
    from gateway.policy.store import materialise

    if spec.startswith("sha256:"):
        with _session() as session:
            return materialise(session, spec, scratch)
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
    from gateway.policy.store import store_revision

    settings = get_settings()
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    source = directory or settings.resolved_policy_dir()
    try:
        EmbeddedRegoEngine(source, catalogue.ids)  # only a policy that loads and answers may be stored
    except PolicyLoadError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(1) from None
    with _session() as session:
        revision = store_revision(session, source, catalogue.ids, datetime.now(UTC))
        session.commit()
    typer.echo(revision)


@policy_app.command("revisions")
def policy_revisions() -> None:
    """List stored policy revisions; the one in force is marked."""
    from gateway.policy.store import active_revision, list_revisions

    with _session() as session:
        active = active_revision(session)
        for r in list_revisions(session):
            mark = "*" if r.revision == active else " "
            when = (
                f"activated {r.activated_at:%Y-%m-%d %H:%M} by {r.activated_by}"
                if r.activated_at
                else "never activated"
            )
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

    with _session() as session:
        stored = read_revision(session, revision)
        if stored is None:
            err_console.print(f"error: no stored policy revision {revision}")
            raise typer.Exit(1)
        if out is not None:
            try:
                target = materialise(session, revision, out)
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

    with _session() as session:
        try:
            activate(session, revision, by=by, now=datetime.now(UTC))
        except LookupError as exc:
            session.rollback()
            err_console.print(f"error: {exc.args[0]}")
            raise typer.Exit(1) from None
        session.commit()
    console.print(f"Policy revision {revision} activated; restart gateways to serve it.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
