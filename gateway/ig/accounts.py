"""Staff accounts: argon2id password hashes, roles and lockout (service functions over a Session).

The caller owns the transaction. A sign-in is read (:func:`candidate`), checked (:func:`check_password`,
the slow hash, with no transaction open) and judged (:func:`settle`, which returns a value saying what
happened; the router logs it): a wrong password counts towards the lockout, a locked account is refused
even with the right password, and an unknown username costs a hash like a known one.

Hashing is a :class:`Passwords`: the product uses :data:`PRODUCTION` everywhere (the IG pages take it from
their wiring, ``Ig.passwords``; the command line and the demo use the default arguments below).
"""

from __future__ import annotations

import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import StaffAccount


class Role(StrEnum):
    AUDITOR = "ig-auditor"  # reads everything on the IG pages
    ADMIN = "ig-admin"  # and also revokes clients, reviews overrides, activates policy revisions


USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 12


class Passwords:
    """How staff passwords are hashed and checked: one argon2 ``PasswordHasher``, and the hash that an
    attempt on an unknown, disabled or locked account is checked against instead (made with the same
    parameters, so that a miss costs what a hit costs).

    A check reads the parameters from the stored PHC string, so any argon2id hash verifies whatever made
    it; a hash whose parameters are not this hasher's is replaced at the next good sign-in.
    """

    def __init__(self, hasher: PasswordHasher, dummy_hash: str | None = None) -> None:
        self.hasher = hasher
        self.dummy_hash = dummy_hash if dummy_hash is not None else hasher.hash(secrets.token_urlsafe(32))

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


#: argon2-cffi's defaults, RFC 9106's second recommended option (argon2id, 64 MiB, t=3, p=4). The dummy
#: hash is of a random password nobody kept, made once with these parameters and written here so that
#: no process pays a hash to start (a test checks that its parameters are these).
PRODUCTION = Passwords(
    PasswordHasher(),
    "$argon2id$v=19$m=65536,t=3,p=4$eUPM2eUzEmfxPPTKl7klzw$r7QSRaZlMoIRVDJM6sWZrDIbu144pwllt/3hcYzzylo",
)


class AccountError(ValueError):
    """A refusal to create or change an account; the message says why."""


class SignIn(StrEnum):
    OK = "ok"
    WRONG = "wrong"  # unknown user or wrong password (the page never says which)
    LOCKED = "locked"  # refused: locked now (this attempt may be the one that locked it)
    DISABLED = "disabled"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignIn
    account: StaffAccount | None
    just_locked: bool = False


def add_staff(
    session: Session,
    username: str,
    display_name: str,
    role: str,
    *,
    password: str | None = None,
    oidc_subject: str | None = None,
    now: datetime | None = None,
    passwords: Passwords = PRODUCTION,
) -> StaffAccount:
    if not USERNAME_PATTERN.fullmatch(username or ""):
        raise AccountError("username must be 2-64 lower-case letters, digits, '.', '_' or '-'")
    try:
        chosen = Role(role)
    except ValueError:
        raise AccountError(f"role must be one of {', '.join(r.value for r in Role)}") from None
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 200:
        raise AccountError("display name must be 1-200 characters")
    if password is None and oidc_subject is None:
        raise AccountError("an account needs a password or an OIDC subject to sign in with")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords must be at least {MIN_PASSWORD} characters")
    if session.execute(select(StaffAccount).where(StaffAccount.username == username)).scalar_one_or_none():
        raise AccountError(f"a staff account {username!r} already exists")
    account = StaffAccount(
        id=str(uuid.uuid4()),
        username=username,
        display_name=display_name,
        role=str(chosen),
        password_hash=passwords.hash(password) if password is not None else None,
        oidc_subject=oidc_subject,
        failed_attempts=0,
        created_at=now or datetime.now(UTC),
    )
    session.add(account)
    session.flush()
    return account


def find_by_username(session: Session, username: str) -> StaffAccount | None:
    return session.execute(select(StaffAccount).where(StaffAccount.username == username)).scalar_one_or_none()


def find_by_oidc_subject(session: Session, subject: str) -> StaffAccount | None:
    return session.execute(select(StaffAccount).where(StaffAccount.oidc_subject == subject)).scalar_one_or_none()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; every value written here is UTC.
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def is_locked(account: StaffAccount, now: datetime) -> bool:
    locked_until = _aware(account.locked_until)
    return locked_until is not None and locked_until > now


@dataclass(frozen=True)
class Candidate:
    """What a sign-in needs to know of an account before the password is checked: read in a short
    transaction that is closed before the (deliberately slow) hash runs."""

    username: str
    account_id: str | None
    password_hash: str | None
    usable: bool  # exists, has a password, not disabled, not locked when read


@dataclass(frozen=True)
class PasswordCheck:
    verified: bool
    password_hash: str | None  # the hash the check was made against
    rehashed: str | None = None  # a fresh hash when the stored one's parameters are out of date


def candidate(session: Session, username: str, *, now: datetime) -> Candidate:
    account = find_by_username(session, username)
    if account is None:
        return Candidate(username, None, None, False)
    usable = account.password_hash is not None and account.disabled_at is None and not is_locked(account, now)
    return Candidate(username, account.id, account.password_hash, usable)


def check_password(found: Candidate, password: str, passwords: Passwords = PRODUCTION) -> PasswordCheck:
    """The argon2id check (64 MiB, about a tenth of a second): call it with no transaction open.

    Exactly one hash whatever the account's state: an unknown, disabled or locked account is checked
    against a dummy hash, so a miss costs what a hit costs and a locked account tells a guesser nothing.
    """
    if not found.usable or found.password_hash is None:
        passwords.verify(passwords.dummy_hash, password)
        return PasswordCheck(False, None)
    if not passwords.verify(found.password_hash, password):
        return PasswordCheck(False, found.password_hash)
    fresh = passwords.hash(password) if passwords.needs_rehash(found.password_hash) else None
    return PasswordCheck(True, found.password_hash, fresh)


def settle(
    session: Session,
    found: Candidate,
    checked: PasswordCheck,
    *,
    now: datetime,
    max_attempts: int,
    lockout: timedelta,
) -> SignInResult:
    """Judge the sign-in from the check made outside the transaction, against the account as it is now."""
    if found.account_id is None:
        return SignInResult(SignIn.WRONG, None)
    # Row lock (PostgreSQL): two concurrent wrong guesses must both count.
    account = session.execute(
        select(StaffAccount).where(StaffAccount.id == found.account_id).with_for_update()
    ).scalar_one_or_none()
    if account is None or account.password_hash is None:
        return SignInResult(SignIn.WRONG, account)
    if account.disabled_at is not None:
        return SignInResult(SignIn.DISABLED, account)
    if is_locked(account, now):
        return SignInResult(SignIn.LOCKED, account)
    # A password changed (or reset) while the hash ran: what was checked is no longer the account's.
    verified = checked.verified and hmac.compare_digest(account.password_hash, checked.password_hash or "")
    if not verified:
        account.failed_attempts += 1
        if account.failed_attempts >= max_attempts:
            account.locked_until = now + lockout
            account.failed_attempts = 0
            session.flush()
            return SignInResult(SignIn.LOCKED, account, just_locked=True)
        session.flush()
        return SignInResult(SignIn.WRONG, account)
    account.failed_attempts = 0
    account.locked_until = None
    account.last_sign_in_at = now
    if checked.rehashed is not None:
        account.password_hash = checked.rehashed
    session.flush()
    return SignInResult(SignIn.OK, account)


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    now: datetime,
    max_attempts: int,
    lockout: timedelta,
    passwords: Passwords = PRODUCTION,
) -> SignInResult:
    """The three steps in one transaction: for the command line and tests. The web sign-in runs them
    apart, so that no transaction (on SQLite: the database's write lock) is held during the hash."""
    found = candidate(session, username, now=now)
    checked = check_password(found, password, passwords)
    return settle(session, found, checked, now=now, max_attempts=max_attempts, lockout=lockout)


def set_password(session: Session, username: str, password: str, passwords: Passwords = PRODUCTION) -> StaffAccount:
    account = find_by_username(session, username)
    if account is None:
        raise AccountError(f"no staff account {username!r}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords must be at least {MIN_PASSWORD} characters")
    account.password_hash = passwords.hash(password)
    account.failed_attempts = 0
    account.locked_until = None
    session.flush()
    return account


def unlock(session: Session, username: str) -> StaffAccount:
    account = find_by_username(session, username)
    if account is None:
        raise AccountError(f"no staff account {username!r}")
    account.failed_attempts = 0
    account.locked_until = None
    session.flush()
    return account
