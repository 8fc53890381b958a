"""The ``ld-gateway`` command."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gateway import cli_plugins, cli_support, records_cli
from gateway.audit.commands import register as register_audit_commands
from gateway.auth.cli import agency_app, client_app, token_key_app
from gateway.cli_help import PlainHelpGroup
from gateway.cli_support import console, err_console
from gateway.court_requests.cli import webhook_app
from gateway.ig.cli import staff_app
from gateway.policy.cli import policy_app

if TYPE_CHECKING:  # the commands import what they use when they run: `ld-gateway --help` stays quick
    from sqlalchemy.orm import Session

    from gateway.audit.verify_log import LogVerifyResult
    from gateway.config import Settings

app = typer.Typer(
    cls=PlainHelpGroup,
    help="ld-gateway: secure information sharing for Liaison and Diversion services.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The disclosure log.", no_args_is_help=True)
app.add_typer(agency_app, name="agency")
app.add_typer(client_app, name="client")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
register_audit_commands(audit_app)
app.add_typer(token_key_app, name="token-key")
app.add_typer(webhook_app, name="webhook")
app.add_typer(staff_app, name="staff")
app.add_typer(records_cli.assessment_app, name="assessment")
cli_plugins.register(app)  # `ld-gateway import`, from adapters/case_export (pyproject.toml's entry points)
app.add_typer(records_cli.subject_app, name="subject")
app.add_typer(records_cli.retention_app, name="retention")


@app.command()
def init() -> None:
    """Create the database (Alembic upgrade) and the gateway's keys under GATEWAY_DATA_DIR. Idempotent."""
    from gateway.audit.witness import WitnessError
    from gateway.audit.witness import status as witness_status
    from gateway.bootstrap import initialise

    settings = cli_support.settings()
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
    with _starting():
        from gateway import server
        from gateway.app import create_app
        from gateway.app_logging import configure_logging
        from gateway.auth.errors import KeyFileError
        from gateway.keys import KeysMissing, load_keyring
        from gateway.policy.source import PolicyLoadError

        server.limit_malloc_arenas()
        configure_logging()
        settings = cli_support.settings()
        if workers > 1 and not settings.database_url.startswith("postgresql"):
            # Server-sent events reach only the process that committed on SQLite (no LISTEN/NOTIFY): refuse,
            # rather than serve some clients a stream that never hears of other processes' work.
            console.print(
                "[red]--workers above 1 needs PostgreSQL (GATEWAY_DATABASE_URL=postgresql+psycopg://...)[/red]"
            )
            raise typer.Exit(2)
        try:
            # Each worker builds its own application; check the keys once here so a missing init fails loudly.
            application = create_app(settings) if workers == 1 else load_keyring(settings.keys_dir)
        except (KeysMissing, KeyFileError, PolicyLoadError) as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(2) from None
    _serve_metrics(cli_support.settings())
    if workers == 1:
        server.run(application, host, port, settings.trusted_proxies)  # type: ignore[arg-type]
        return
    import uvicorn

    # Several processes under uvicorn's supervisor, each building its own application (worker_app, which
    # also has it end its event streams when told to stop: server.end_streams_when_stopped), with the same
    # options as one (server.options: no access log, forwarding headers as configured).
    uvicorn.run(
        "gateway.cli:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        **server.options(settings.trusted_proxies),
    )


def worker_app() -> Any:
    """The application as each ``serve --workers N`` process builds it (uvicorn imports this by name)."""
    with _starting():
        from gateway.app import create_app
        from gateway.app_logging import configure_logging
        from gateway.server import end_streams_when_stopped, limit_malloc_arenas

        limit_malloc_arenas()
        configure_logging()
        application = create_app(cli_support.settings())
        end_streams_when_stopped(application)
        return application


@contextmanager
def _starting() -> Iterator[None]:
    """A serving process's start (its imports, the application) without the cyclic garbage collector, then
    what it made frozen (:func:`gc.freeze`). The start makes a few hundred thousand objects that live as long
    as the process, and next to no garbage: collecting while it runs costs about a tenth of its CPU. Frozen,
    they are not walked by the collections that requests trigger (without it, the first would walk them all)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
    gc.freeze()


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

    settings = cli_support.settings()
    loaded = load_demo(settings)
    console.print(tour(loaded, f"http://{host}:{port}"), soft_wrap=True, highlight=False, markup=False)
    if not no_serve:
        serve(host=host, port=port, workers=1)


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
            verifier = log_signer(cli_support.settings()).verifier
        except KeysMissing:
            verifier = None  # entries still verify; any checkpoint will be reported as unverifiable
    witnessing = witness.status(cli_support.settings())

    def verify(tx: Session) -> LogVerifyResult:
        head = log.read_head(tx)
        columns = (TextColumn("verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=err_console, disable=as_json, transient=True) as bar:
            task = bar.add_task("entries", total=head[0] if head else None)
            return verify_log(
                tx,
                verifier,
                from_size=from_checkpoint,
                progress=lambda n: bar.update(task, completed=n),
                witnessed=witnessing.notes,
            )

    # A read: on SQLite the whole-log check holds no write lock, so the gateway serves while it runs.
    result = cli_support.read(verify, snapshot=True)
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
        cli_support.write(
            lambda tx: verifications.record(
                tx,
                source=verifications.Source.SCHEDULE if scheduled else verifications.Source.CLI,
                verified_at=datetime.now(UTC),
                status="intact" if result.ok else "failed",
                entries=result.entries,
                from_size=result.start,
                checkpoints=result.checkpoints,
                head_hash=result.head_hash,
                failure=None if result.failure is None else str(result.failure),
            )
        )
    except SQLAlchemyError as exc:
        err_console.print(f"warning: the result could not be recorded for the IG pages ({exc.__class__.__name__})")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
