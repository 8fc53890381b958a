"""``ld-gateway agency ...``, ``client ...`` and ``token-key ...``: registering agencies and their OAuth
clients, and rotating keys with overlap (registered on the root command in gateway/cli.py).

``client keys``: add the new key, let the agency switch to it, then remove the old one; in between,
assertions signed by either are accepted. Clients that publish a JWKS URL rotate there instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from gateway import cli_support
from gateway.auth.errors import RegistrationError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

agency_app = typer.Typer(help="Partner agencies (police forces, courts, probation regions, ...).", no_args_is_help=True)
client_app = typer.Typer(help="Agencies' OAuth clients (signed-JWT client credentials).", no_args_is_help=True)
keys_app = typer.Typer(help="A client's registered public keys (rotation with overlap).", no_args_is_help=True)
client_app.add_typer(keys_app, name="keys")


T = TypeVar("T")


def register(work: Callable[[Session], T]) -> T:
    """A registration command's work in one write transaction; a refusal rolls it back and is one clear
    line, exit 1."""
    return _refusing(lambda: cli_support.write(work))


def _refusing(call: Callable[[], T]) -> T:
    try:
        return call()
    except RegistrationError as exc:
        cli_support.err_console.print(f"error: {exc.message}")
        raise typer.Exit(1) from None


def _key_target(generate_key: Path | None) -> None:
    if generate_key is not None and generate_key.exists():
        raise typer.BadParameter(f"{generate_key} exists; the gateway never overwrites a key file")


def _given_jwks(jwks_file: Path | None, generate_key: Path | None, check: Callable[[Session], None]) -> Any:
    """The public keys in ``jwks_file``, or those of a key pair made now (its private key written to
    ``generate_key``); ``None`` when neither is given.

    A key is made only for a request that ``check`` (in a read transaction) does not refuse, and with
    no transaction open: an RSA 4096 key is about a second of CPU, and no write lock waits on it.
    """
    if generate_key is not None:
        from gateway.auth import registry
        from gateway.auth._files import write_secret_file

        _refusing(lambda: cli_support.read(check))
        key = registry.new_client_key()
        _refusing(lambda: write_secret_file(generate_key, key.private_pem))  # KeyFileError: one clear line
        return {"keys": [key.public_jwk]}
    return json.loads(jwks_file.read_text()) if jwks_file is not None else None


def _register_keyed(work: Callable[[Session], T], generate_key: Path | None) -> T:
    """:func:`register`, removing the private key generated for it when it fails."""
    try:
        return register(work)
    except BaseException:
        if generate_key is not None:
            generate_key.unlink(missing_ok=True)  # a key for no client is only a liability
        raise


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

    agency = register(lambda tx: registry.add_agency(tx, code, name, type_, ods_code=ods_code))
    ods = f", ODS {agency.ods_code}" if agency.ods_code else ""
    cli_support.console.print(f"Agency {agency.code} ({agency.type}{ods}) added.")


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

    if sum(x is not None for x in (jwks_file, jwks_url, generate_key)) != 1:
        raise typer.BadParameter("give exactly one of --jwks-file, --jwks-url, --generate-key")
    _key_target(generate_key)
    jwks = _given_jwks(
        jwks_file, generate_key, lambda tx: registry.check_client(tx, agency, purpose, algorithms=alg or None)
    )

    def work(tx: Session) -> str:
        client = registry.add_client(
            tx, agency, purpose, jwks=jwks, jwks_url=jwks_url, algorithms=alg or None, dpop_required=dpop
        )
        return client.client_id

    client_id = _register_keyed(work, generate_key)
    if generate_key is not None:
        cli_support.console.print(
            f"Private key written to {generate_key}; keep it secret (the gateway keeps only the public key)."
        )
    typer.echo(client_id)


@client_app.command("revoke")
def client_revoke(client_id: str = typer.Argument(..., help="The client to revoke.")) -> None:
    """Revoke a client: it can get no new tokens, and its live tokens stop working."""
    from gateway.auth import registry

    register(lambda tx: registry.revoke_client(tx, client_id))
    cli_support.console.print(f"Client {client_id} revoked.")


@keys_app.command("add")
def keys_add(
    client_id: str = typer.Argument(..., help="The client."),
    jwks_file: Path | None = typer.Option(None, exists=True, help="A JWKS file with the new public key(s)."),
    generate_key: Path | None = typer.Option(None, help="Generate a key pair; write the private key (PEM) here."),
) -> None:
    """Add public key(s) to a client; the old ones keep working until removed."""
    from gateway.auth import registry

    if (jwks_file is None) == (generate_key is None):
        raise typer.BadParameter("give exactly one of --jwks-file, --generate-key")
    _key_target(generate_key)
    jwks = _given_jwks(jwks_file, generate_key, lambda tx: registry.check_client_keys(tx, client_id))
    kids = _register_keyed(lambda tx: registry.add_client_keys(tx, client_id, jwks), generate_key)
    cli_support.console.print(f"Client {client_id} keys: {', '.join(kids)}")


@keys_app.command("remove")
def keys_remove(
    client_id: str = typer.Argument(..., help="The client."),
    kid: str = typer.Option(..., help="The kid of the key to remove."),
) -> None:
    """Remove one key from a client: assertions signed with it are refused from now on."""
    from gateway.auth import registry

    kids = register(lambda tx: registry.remove_client_key(tx, client_id, kid))
    cli_support.console.print(f"Client {client_id} keys: {', '.join(kids)}")


@keys_app.command("list")
def keys_list(client_id: str = typer.Argument(..., help="The client.")) -> None:
    """Print the client's registered public JWKS (or its JWKS URL)."""
    from gateway.auth import registry

    client = cli_support.read(lambda tx: registry.get_client(tx, client_id))
    if client is None:
        typer.echo(f"error: no client with id {client_id!r}", err=True)
        raise typer.Exit(1)
    typer.echo(json.dumps(client.jwks, indent=2) if client.jwks is not None else client.jwks_url)


token_key_app = typer.Typer(help="The gateway's own token-signing key.", no_args_is_help=True)


@token_key_app.command("rotate")
def token_key_rotate() -> None:
    """Retire the token-signing key and make a new one. The old key is published and still verifies
    for 330 s (the longest a token it signed can live); every running process follows within seconds."""
    from gateway.auth.rotation import OVERLAP, rotate_signing_key

    old, new = rotate_signing_key(cli_support.settings().keys_dir)
    cli_support.console.print(f"Token-signing key {new} is now in use; {old} verifies for another {OVERLAP} s.")
