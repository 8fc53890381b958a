"""``ld-gateway audit ...`` commands beyond ``verify`` (registered on the ``audit`` group in gateway/cli.py)."""

from __future__ import annotations

import typer
from rich.console import Console

from gateway.config import get_settings

console = Console()
err_console = Console(stderr=True)


def register(audit_app: typer.Typer) -> None:
    audit_app.command("checkpoint")(checkpoint)


def checkpoint(
    export: bool = typer.Option(True, help="Also hand the newest checkpoint to the configured witness."),
) -> None:
    """Sign a checkpoint of the log now (if it grew since the last one); print the newest checkpoint."""
    from gateway.audit import checkpoints, witness
    from gateway.audit.checkpoints import CheckpointRefused
    from gateway.audit.log_key import log_signer
    from gateway.db.engine import make_engine, make_session_factory
    from gateway.keys import KeysMissing

    settings = get_settings()
    try:
        signer = log_signer(settings)
    except KeysMissing as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    sessions = make_session_factory(make_engine(settings.database_url))
    try:
        with sessions.begin() as session:
            checkpoints.checkpoint_if_due(session, signer, force=True)
    except CheckpointRefused as exc:
        err_console.print(f"error: refusing to sign: {exc}")
        raise typer.Exit(1) from None
    with sessions() as session:
        latest = checkpoints.latest(session)
        if latest is None:
            console.print("The log is empty: nothing to checkpoint.")
            return
        target = witness.witness_from(settings) if export else None
        if target is not None:
            held = witness.export_latest(session, target)
            err_console.print(f"witness holds the checkpoint of {held} entries")
    typer.echo(latest.note, nl=False)
