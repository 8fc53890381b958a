"""``ld-gateway staff``: IG staff accounts for the pages at /ig/."""

from __future__ import annotations

import secrets
import sys

import typer

from gateway import cli_support

staff_app = typer.Typer(help="IG staff accounts for the /ig/ pages (roles ig-auditor, ig-admin).", no_args_is_help=True)


def generate_password() -> str:
    """A random password for a new account (about 120 bits), shown once."""
    return secrets.token_urlsafe(15)


@staff_app.command("add")
def staff_add(
    username: str = typer.Option(..., help="Sign-in name: lower-case letters, digits, '.', '_' or '-'."),
    name: str = typer.Option(..., help="The person's name, shown on the pages."),
    role: str = typer.Option(..., help="ig-auditor (reads) or ig-admin (also revokes clients, reviews overrides)."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    oidc_subject: str | None = typer.Option(
        None, help="Sign in through OIDC only: the identity provider's 'ISSUER|SUB' for this person."
    ),
) -> None:
    """Create a staff account. Without --password-stdin or --oidc-subject a password is generated and printed once."""
    from gateway.ig.accounts import AccountError, add_staff

    password: str | None = None
    generated = False
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif oidc_subject is None:
        password, generated = generate_password(), True
    try:
        account = cli_support.write(
            lambda tx: add_staff(tx, username.strip().lower(), name, role, password=password, oidc_subject=oidc_subject)
        )
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Staff account {account.username} ({account.role}) added.")
    if generated:
        typer.echo(f"Password (shown once; it is stored only as an argon2id hash): {password}")


@staff_app.command("unlock")
def staff_unlock(username: str = typer.Argument(..., help="The account to unlock.")) -> None:
    """Clear a lockout after repeated failed sign-ins."""
    from gateway.ig.accounts import AccountError, unlock

    try:
        cli_support.write(lambda tx: unlock(tx, username.strip().lower()))
    except AccountError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Staff account {username} unlocked.")


@staff_app.command("list")
def staff_list() -> None:
    """List staff accounts (never their password hashes)."""
    from sqlalchemy import select

    from gateway.db.models import StaffAccount

    accounts = cli_support.read(
        lambda tx: list(tx.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars())
    )
    for account in accounts:
        how = "oidc" if account.oidc_subject else "password"
        typer.echo(f"{account.username}\t{account.role}\t{how}\t{account.display_name}")
