"""Server-side sessions for the IG pages, and their CSRF tokens (synchroniser token pattern).

The cookie carries 256 random bits; the database keeps only their SHA-256, so a read of the table
cannot be replayed as a cookie. Each session has its own CSRF token, which every form posts back
and which is compared in constant time. Signing in starts a new session (no session fixation);
signing out deletes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from gateway.db.models import StaffAccount, StaffSession

# "__Host-": the browser accepts it only with Secure, Path=/ and no Domain, so no other host (a
# sibling subdomain, say) can plant or overwrite it (RFC 6265bis section 4.1.3.2).
COOKIE_NAME = "__Host-ig-session"


@dataclass
class Current:
    """The session a request carries, and the staff member when signed in."""

    row: StaffSession
    staff: StaffAccount | None
    token: str | None = None  # set only when the cookie must be (re)sent

    @property
    def csrf_token(self) -> str:
        return self.row.csrf_token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def start(
    session: Session,
    staff: StaffAccount | None,
    *,
    now: datetime,
    lifetime: timedelta,
    data: dict[str, Any] | None = None,
) -> Current:
    token = secrets.token_urlsafe(32)
    row = StaffSession(
        token_sha256=_digest(token),
        staff_id=staff.id if staff else None,
        csrf_token=secrets.token_urlsafe(32),
        data=data or {},
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    return Current(row, staff, token)


def load(session: Session, token: str | None, *, now: datetime, idle: timedelta) -> Current | None:
    """The live session named by a cookie value, or None (absent, unknown, idle too long or expired)."""
    if not token or len(token) > 100:
        return None
    row = session.get(StaffSession, _digest(token))
    if row is None:
        return None
    if _aware(row.expires_at) <= now or _aware(row.last_seen_at) + idle <= now:
        session.delete(row)
        session.flush()
        return None
    staff = session.get(StaffAccount, row.staff_id) if row.staff_id else None
    if row.staff_id and (staff is None or staff.disabled_at is not None):
        session.delete(row)
        session.flush()
        return None
    row.last_seen_at = now
    return Current(row, staff)


def peek(session: Session, token: str | None, *, now: datetime, idle: timedelta) -> StaffAccount | None:
    """The staff member signed in with this cookie, read without touching the session (no write)."""
    if not token or len(token) > 100:
        return None
    row = session.get(StaffSession, _digest(token))
    if row is None or row.staff_id is None:
        return None
    if _aware(row.expires_at) <= now or _aware(row.last_seen_at) + idle <= now:
        return None
    staff = session.get(StaffAccount, row.staff_id)
    return staff if staff is not None and staff.disabled_at is None else None


# The sign-in form's CSRF token, before there is a session: a random value in a __Host- cookie and, in
# the form, its HMAC under the gateway's key (a signed double-submit cookie). A forged form from another
# site can neither read the cookie nor compute the HMAC; and showing the form writes nothing anywhere.
SIGNIN_COOKIE = "__Host-ig-signin"


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(32)


def signin_csrf_token(key: bytes, nonce: str) -> str:
    return hmac.new(key, b"ig sign-in form|" + nonce.encode(), hashlib.sha256).hexdigest()


def signin_csrf_ok(key: bytes, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted or len(nonce) > 100:
        return False
    return hmac.compare_digest(signin_csrf_token(key, nonce).encode(), submitted.encode())


def end(session: Session, current: Current) -> None:
    session.delete(current.row)
    session.flush()


def purge_expired(session: Session, now: datetime) -> None:
    session.execute(delete(StaffSession).where(StaffSession.expires_at <= now))


def csrf_ok(current: Current | None, submitted: str | None) -> bool:
    if current is None or not submitted:
        return False
    return hmac.compare_digest(current.row.csrf_token.encode(), submitted.encode())
