"""``ld-gateway staff``: accounts with generated or supplied passwords, argon2id hashes, unlock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import extract_parameters
from sqlalchemy import select

from gateway.db.engine import make_engine, make_session_factory
from gateway.db.models import StaffAccount
from gateway.ig import accounts
from tests.fixtures.keys import install_keys
from tests.ig.test_passwords import RFC_9106_SECOND


@pytest.fixture(autouse=True)
def keys_in_place(settings, keys_template):
    """The session's gateway keys in the data directory, so that ``init`` finds them rather than making an
    RSA signing key (most of a second): what init makes is tests/test_cli.py's to check, not these."""
    install_keys(keys_template, settings.keys_dir)


def _account(database_url: str, username: str) -> StaffAccount:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return session.execute(select(StaffAccount).where(StaffAccount.username == username)).scalar_one()
    finally:
        engine.dispose()


def test_staff_add_generates_a_password_shown_once_and_stores_only_its_argon2id_hash(cli, database_url):
    cli("init")
    result = cli("staff", "add", "--username", "alex", "--name", "Alex Auditor", "--role", "ig-auditor")
    password = result.output.strip().splitlines()[-1].split(": ")[-1]
    assert len(password) >= 16
    stored = _account(database_url, "alex")
    assert stored.password_hash.startswith("$argon2id$") and password not in stored.password_hash
    assert extract_parameters(stored.password_hash) == RFC_9106_SECOND
    engine = make_engine(database_url)
    with make_session_factory(engine).begin() as session:
        ok = accounts.authenticate(
            session, "alex", password, now=datetime.now(UTC), max_attempts=5, lockout=timedelta(minutes=1)
        )
    engine.dispose()
    assert ok.outcome is accounts.SignIn.OK


def test_staff_add_refuses_bad_input_with_one_line(cli):
    cli("init")
    assert (
        "role must be one of" in cli("staff", "add", "--username", "a1", "--name", "A", "--role", "boss", code=1).output
    )
    short = cli(
        "staff",
        "add",
        "--username",
        "a2",
        "--name",
        "A",
        "--role",
        "ig-admin",
        "--password-stdin",
        stdin="short\n",
        code=1,
    )
    assert "at least 12" in short.output
    cli(
        "staff",
        "add",
        "--username",
        "dana",
        "--name",
        "Dana",
        "--role",
        "ig-admin",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    again = cli("staff", "add", "--username", "dana", "--name", "D", "--role", "ig-admin", code=1)
    assert "already exists" in again.output


def test_staff_unlock_clears_a_lockout(cli, database_url):
    cli("init")
    cli(
        "staff",
        "add",
        "--username",
        "sam",
        "--name",
        "Sam",
        "--role",
        "ig-auditor",
        "--password-stdin",
        stdin="a long enough password\n",
    )
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    for _ in range(3):
        with sessions.begin() as session:
            accounts.authenticate(session, "sam", "wrong", now=now, max_attempts=3, lockout=timedelta(hours=1))
    with sessions.begin() as session:
        locked = accounts.authenticate(
            session, "sam", "a long enough password", now=now, max_attempts=3, lockout=timedelta(hours=1)
        )
        assert locked.outcome is accounts.SignIn.LOCKED
    cli("staff", "unlock", "sam")
    with sessions.begin() as session:
        ok = accounts.authenticate(
            session, "sam", "a long enough password", now=now, max_attempts=3, lockout=timedelta(hours=1)
        )
        assert ok.outcome is accounts.SignIn.OK
    engine.dispose()
    assert "sam\tig-auditor\tpassword\tSam" in cli("staff", "list").output
