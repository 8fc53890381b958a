"""Who a command acts as: ``--agency CODE`` (a demo agency: its client id and key from the demo's key
directory) or ``--client-id`` with ``--key``; and which gateway (``--gateway``, else ``$GATEWAY_ISSUER``,
else http://127.0.0.1:8000). Shared by ``python -m adapters.agency_client`` and ``adapters.court_requests``,
so every subcommand takes the same options with the same defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import typer

DEFAULT_GATEWAY = "http://127.0.0.1:8000"


def default_gateway() -> str:
    return os.environ.get("GATEWAY_ISSUER") or DEFAULT_GATEWAY


def default_keys_dir() -> Path:
    return Path(os.environ.get("GATEWAY_DATA_DIR") or "var") / "demo-keys"


@dataclass(frozen=True)
class Identity:
    gateway: str
    client_id: str
    key: Path


def resolve(gateway: str | None, agency: str | None, client_id: str | None, key: Path | None) -> Identity:
    """The gateway, client id and key to use; a clear error naming the missing option otherwise."""
    if agency is not None:
        keys_dir = default_keys_dir()
        record = keys_dir / "clients.json"
        try:
            known = json.loads(record.read_text())
        except FileNotFoundError:
            raise typer.BadParameter(
                f"no demo clients at {record} (run `ld-gateway demo`, or give --client-id and --key)",
                param_hint="--agency",
            ) from None
        if agency not in known:
            raise typer.BadParameter(f"{agency} is not a demo agency in {record}", param_hint="--agency")
        client_id, key = client_id or known[agency], key or keys_dir / f"{agency}.pem"
    if client_id is None or key is None:
        raise typer.BadParameter("give --agency CODE (a demo agency), or --client-id and --key")
    if not key.exists():
        raise typer.BadParameter(f"no such key file: {key}", param_hint="--key")
    return Identity((gateway or default_gateway()).rstrip("/"), client_id, key)


GatewayOpt = typer.Option(None, "--gateway", help="The gateway's base URL (default: $GATEWAY_ISSUER, else :8000).")
AgencyOpt = typer.Option(
    None, "--agency", help="A demo agency's code (POL-NE...): its client id and key from $GATEWAY_DATA_DIR/demo-keys."
)
ClientOpt = typer.Option(None, "--client-id", help="Your client_id, as `ld-gateway client add` printed it.")
KeyOpt = typer.Option(None, "--key", help="Your private key (PEM).")
