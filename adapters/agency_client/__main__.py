"""``python -m adapters.agency_client``: pull what the gateway releases to your agency."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from adapters.agency_client.client import AgencyClient, TokenRefused, algorithm_for, load_private_key
from adapters.agency_client.identity import AgencyOpt, ClientOpt, GatewayOpt, KeyOpt, resolve
from adapters.agency_client.outline import document_outline
from adapters.agency_client.receipts import ReceiptError, verify_response

app = typer.Typer(help="Reference agency client for ld-gateway.", no_args_is_help=True)


@app.callback()
def main() -> None:
    """Reference agency client for ld-gateway: sign assertions, get tokens, pull bundles."""


@app.command()
def jwks(
    key: Path = typer.Option(..., exists=True, help="Your private key (PEM), e.g. made with openssl genpkey."),
) -> None:
    """Print the public JWKS to register for KEY (its kid is the RFC 7638 thumbprint this client signs with)."""
    private = load_private_key(key)
    public: dict[str, Any] = dict(private.as_dict(private=False))
    public.update({"kid": private.kid, "use": "sig", "alg": algorithm_for(private)})
    typer.echo(json.dumps({"keys": [public]}, indent=2))


@app.command()
def pull(
    purpose: str = typer.Option(..., help="custody, charging, case-management, sentencing or health-referral."),
    nhs_number: str = typer.Option(..., help="The person's NHS number."),
    agency: str | None = AgencyOpt,
    client_id: str | None = ClientOpt,
    key: Path | None = KeyOpt,
    gateway: str | None = GatewayOpt,
    out: Path | None = typer.Option(None, help="Save the response body (the searchset) here."),
    save_dir: Path | None = typer.Option(None, help="Save each released document bundle here as <id>.json."),
    log_key: Path | None = typer.Option(
        None,
        exists=True,
        help="The gateway log's public key as JSON (the `jwk` of GET /audit/log-key, obtained out of band). "
        "Without it the key is fetched from the gateway itself (trust on first use).",
    ),
) -> None:
    """Search for a person's assessment bundles and summarise what was released.

    Tokens are DPoP-bound (RFC 9449) to a key made for this run; see docs/agency-onboarding.md for
    every error code and what to do about it."""
    who = resolve(gateway, agency, client_id, key)
    client = AgencyClient(who.gateway, who.client_id, load_private_key(who.key))
    try:
        result = client.search(purpose, nhs_number)
    except TokenRefused as exc:
        typer.echo(f"token refused: HTTP {exc.status} {exc.error}: {exc.description}")
        raise typer.Exit(1) from None
    jwk = json.loads(log_key.read_text()) if log_key else client.log_jwk()
    try:
        claims = verify_response(result.response, jwk)
    except ReceiptError as exc:
        typer.echo(f"disclosure receipt check FAILED: {exc}")
        raise typer.Exit(3) from None
    typer.echo(f"receipts verified: {len(claims)} (log leaf indexes {', '.join(str(c['leaf_index']) for c in claims)})")
    if out:
        out.write_bytes(result.raw)
    if save_dir and result.status == 200:
        save_dir.mkdir(parents=True, exist_ok=True)
        for entry in result.body.get("entry", []):
            document = entry["resource"]
            (save_dir / f"{document['id']}.json").write_text(json.dumps(document, indent=2))
    typer.echo(f"HTTP {result.status}  disclosure id(s): {', '.join(result.disclosure_ids)}")
    if result.status != 200:
        typer.echo(json.dumps(result.body, indent=2))
        raise typer.Exit(1)
    for entry in result.body.get("entry", []):
        for line in document_outline(entry["resource"]):
            typer.echo(line)


if __name__ == "__main__":
    app()
