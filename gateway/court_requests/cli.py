"""``ld-gateway webhook ...``: register agencies' signed-webhook endpoints (see docs/requests.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from gateway import cli_support

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

webhook_app = typer.Typer(help="Agencies' signed webhook endpoints (request notifications).", no_args_is_help=True)


@webhook_app.command("add")
def add(
    agency: str = typer.Option(..., "--agency", help="The agency code that receives the notifications."),
    url: str = typer.Option(..., "--url", help="https URL (plain http only to 127.0.0.1/localhost)."),
) -> None:
    """Register an endpoint. Prints its id, then its signing secret alone on the last line (shown once)."""
    from gateway.court_requests.webhooks import WebhookError, add_subscription
    from gateway.keys import load_keyring

    keyring = load_keyring(cli_support.settings().keys_dir)
    try:
        subscription_id, secret = cli_support.write(
            lambda tx: add_subscription(tx, keyring, agency, url, datetime.now(UTC))
        )
    except WebhookError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"webhook {subscription_id} registered for {agency}; keep this secret, it is not shown again:")
    typer.echo(secret)


@webhook_app.command("list")
def list_() -> None:
    """Endpoints with their delivery counts by state."""
    from sqlalchemy import func, select

    from gateway.db.models import Agency, WebhookDelivery, WebhookSubscription

    def listing(tx: Session) -> list[str]:
        lines = []
        rows = tx.execute(
            select(WebhookSubscription, Agency.code).join(Agency, Agency.id == WebhookSubscription.agency_id)
        ).all()
        for subscription, code in rows:
            counts = dict(
                tx.execute(
                    select(WebhookDelivery.state, func.count())
                    .where(WebhookDelivery.subscription_id == subscription.id)
                    .group_by(WebhookDelivery.state)
                ).all()
            )
            state = "disabled" if subscription.disabled_at else "active"
            summary = " ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "no deliveries"
            lines.append(f"{subscription.id} {code} {state} {subscription.url} {summary}")
        return lines

    for line in cli_support.read(listing):
        typer.echo(line)


@webhook_app.command("disable")
def disable(subscription_id: str) -> None:
    """Stop delivering to an endpoint (pending deliveries are cancelled)."""
    from gateway.court_requests.webhooks import disable_subscription

    if not cli_support.write(lambda tx: disable_subscription(tx, subscription_id, datetime.now(UTC))):
        typer.echo("error: no active webhook with this id", err=True)
        raise typer.Exit(1)
    typer.echo(f"webhook {subscription_id} disabled")
