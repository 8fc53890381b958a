"""``ld-gateway audit ...`` commands beyond ``verify`` (registered on the ``audit`` group in gateway/cli.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from gateway import cli_support

console = Console()
err_console = Console(stderr=True)


def register(audit_app: typer.Typer) -> None:
    audit_app.command("checkpoint")(checkpoint)
    audit_app.command("export")(export)


def checkpoint(
    export: bool = typer.Option(True, help="Also hand the newest checkpoint to the configured witness."),
) -> None:
    """Sign a checkpoint of the log now (if it grew since the last one); print the newest checkpoint."""
    from gateway.audit import checkpoints, witness
    from gateway.audit.checkpoints import CheckpointRefused
    from gateway.audit.log_key import log_signer
    from gateway.db import unit_of_work
    from gateway.keys import KeysMissing

    settings = cli_support.settings()
    try:
        signer = log_signer(settings)
    except KeysMissing as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    sessions = cli_support.sessions()
    try:
        unit_of_work.run(sessions, lambda tx: checkpoints.checkpoint_if_due(tx, signer, force=True))
    except CheckpointRefused as exc:
        err_console.print(f"error: refusing to sign: {exc}")
        raise typer.Exit(1) from None
    latest = unit_of_work.read(sessions, checkpoints.latest)
    if latest is None:
        console.print("The log is empty: nothing to checkpoint.")
        return
    target = witness.witness_from(settings) if export else None
    if target is not None:
        try:
            held = unit_of_work.read(sessions, lambda tx: witness.export_latest(tx, target))
        except witness.WitnessError as exc:
            # The alarm a rollback raises: the log is behind or forks from what the witness saw.
            err_console.print(f"error: the witness refused the checkpoint: {exc}; run `ld-gateway audit verify`")
            raise typer.Exit(1) from None
        err_console.print(f"witness holds the checkpoint of {held} entries")
    typer.echo(latest.note, nl=False)


def export(
    directory: Path = typer.Argument(..., help="An empty (or new) directory to write the export into."),
) -> None:
    """Export the log (entries, checkpoints, verifier key) for an offline auditor; see docs/audit.md."""
    from gateway.audit.export import write_export
    from gateway.audit.log_key import log_signer
    from gateway.db import unit_of_work
    from gateway.keys import KeysMissing

    settings = cli_support.settings()
    try:
        verifier = log_signer(settings).verifier
    except KeysMissing as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(2) from None
    sessions = cli_support.sessions()
    try:
        # A read: on SQLite a whole-log export holds no write lock, so a serving gateway is not held up.
        summary = unit_of_work.read(sessions, lambda tx: write_export(tx, directory, verifier), snapshot=True)
    except FileExistsError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(1) from None
    console.print(
        f"Exported {summary.entries} entries and {summary.checkpoints} checkpoints to {directory}; "
        f"verify with: python -m adapters.log_verifier {directory} --key YOUR_COPY_OF_THE.vkey"
    )
