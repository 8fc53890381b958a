"""Staff accounts: argon2id password hashes, roles and lockout (service functions over a Session).

The caller owns the transaction. A sign-in is read (:func:`candidate`), checked (:func:`check_password`,
the slow hash, with no transaction open) and judged (:func:`settle`, which returns a value saying what
happened; the router logs it): a wrong password counts towards the lockout, a locked account is refused
even with the right password, and an unknown username costs a hash like a known one.
"""

from __future__ import annotations

import hmac
import re
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
# argon2-cffi's defaults are RFC 9106's second recommended option (argon2id, 64 MiB, t=3, p=4).
_hasher = PasswordHasher()
# Verified against when the username is unknown, so that a miss costs what a hit costs.
_DUMMY_HASH = _hasher.hash("not a password of anyone's")


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
        password_hash=_hasher.hash(password) if password is not None else None,
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


def check_password(found: Candidate, password: str) -> PasswordCheck:
    """The argon2id check (64 MiB, about a tenth of a second): call it with no transaction open.

    Exactly one hash whatever the account's state: an unknown, disabled or locked account is checked
    against a dummy hash, so a miss costs what a hit costs and a locked account tells a guesser nothing.
    """
    if not found.usable or found.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return PasswordCheck(False, None)
    if not _verify(found.password_hash, password):
        return PasswordCheck(False, found.password_hash)
    fresh = _hasher.hash(password) if _hasher.check_needs_rehash(found.password_hash) else None
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
) -> SignInResult:
    """The three steps in one transaction: for the command line and tests. The web sign-in runs them
    apart, so that no transaction (on SQLite: the database's write lock) is held during the hash."""
    found = candidate(session, username, now=now)
    return settle(session, found, check_password(found, password), now=now, max_attempts=max_attempts, lockout=lockout)


def set_password(session: Session, username: str, password: str) -> StaffAccount:
    account = find_by_username(session, username)
    if account is None:
        raise AccountError(f"no staff account {username!r}")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"passwords must be at least {MIN_PASSWORD} characters")
    account.password_hash = _hasher.hash(password)
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


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
