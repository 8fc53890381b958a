"""Idempotent publishing: the ``Idempotency-Key`` request header (draft-ietf-httpapi-idempotency-key-header).

A case system that retries a publish after a lost response sends the same key again. The first request
that *succeeds* under a key stores its response in the same transaction as the publish; a later request
with the same key and the same body gets that response again, and nothing is published twice. The same
key with a different body is refused (422, as the draft's section 2.7 advises): a key names one request.
A request that fails stores nothing, so it can be retried with its key after the problem is fixed.

Keys are per publishing agency. The key and the request are kept only as keyed hashes.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from gateway.db.models import IdempotencyRecord
from gateway.keys import KeyRing

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class InvalidKey(ValueError):
    """The header is not a usable key."""


class KeyReused(Exception):
    """The key was used before for a different request."""


@dataclass(frozen=True)
class Replay:
    status_code: int
    body: dict[str, Any]


def parse_key(header: str) -> str:
    """The key from the header value: an RFC 8941 sf-string (``"..."``) or, as many clients send it, bare."""
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in value) or '"' in value:
        raise InvalidKey(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    return value


def request_digest(keyring: KeyRing, route: str, body: bytes) -> str:
    return keyring.content_mac(route.encode() + b"\0" + body)


def _key_digest(keyring: KeyRing, key: str) -> str:
    return keyring.identifier_hmac("idempotency-key", key)


def lookup(session: Session, keyring: KeyRing, agency_code: str, key: str, request_hmac: str) -> Replay | None:
    """The stored response for this key and request; raises :class:`KeyReused` for another request."""
    row = session.execute(
        select(IdempotencyRecord).where(
            IdempotencyRecord.agency_code == agency_code, IdempotencyRecord.key_hmac == _key_digest(keyring, key)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    if not hmac.compare_digest(row.request_hmac, request_hmac):
        raise KeyReused
    return Replay(row.status_code, json.loads(row.response_body))


def remember(
    session: Session,
    keyring: KeyRing,
    *,
    agency_code: str,
    key: str,
    request_hmac: str,
    status_code: int,
    body: dict[str, Any],
    now: datetime,
) -> None:
    """Record a response in the caller's transaction (the unique key makes a concurrent twin fail)."""
    session.add(
        IdempotencyRecord(
            agency_code=agency_code,
            key_hmac=_key_digest(keyring, key),
            request_hmac=request_hmac,
            status_code=status_code,
            response_body=json.dumps(body, sort_keys=True),
            created_at=now,
        )
    )
    session.flush()


def purge(session: Session, before: datetime) -> int:
    """Forget keys recorded before ``before``; returns how many."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < before))
    assert isinstance(result, CursorResult)  # a DELETE's result is a cursor's: it has a row count
    return int(result.rowcount or 0)
