"""What the disclosure log keeps of an override: commitments, never values (pure: no I/O).

The log is immutable and must stay verifiable after a person is erased (crypto-shredding destroys the
subject's data key), so it holds nothing that names anyone or can be confirmed by guessing. An
override's author and reason enter the hashed entry as HMAC-SHA256 keyed by the subject's data key:
while the key lives, IG can recompute them from the override as stored (the reason decrypted, the
author read from ``lawful_overrides``) and show that the override read today is the one the
disclosures relied on; once the key is destroyed, they are random strings. An unkeyed hash of a short
free text can be confirmed by trying candidates, and a name in clear can never be erased.

The expiry is not personal data and is kept in clear, always in UTC, so the entry's bytes depend on
neither the caller's offset nor the database session's time zone.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any, Final

#: The fields of an override that the log commits to, by their entry field names.
RECORDED_BY: Final = "recorded_by_hmac"
REASON: Final = "reason_hmac"


def commit(data_key: bytes, override_id: str, field: str, value: str) -> str:
    """HMAC-SHA256 (hex) of ``value`` under the subject's data key, bound to the override and the field
    (so one override's author cannot stand in for another's, nor an author for a reason)."""
    message = f"override:{override_id}:{field}|".encode() + value.encode("utf-8")
    return hmac.new(data_key, message, hashlib.sha256).hexdigest()


def utc(value: datetime) -> datetime:
    """``value`` as a UTC instant (a naive value is taken as UTC: SQLite hands back naive UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def log_record(expires_at: datetime, recorded_by_hmac: str | None, reason_hmac: str | None) -> dict[str, Any]:
    """The override's expiry and commitments, as every log entry that names the override carries them
    (its recording, and each disclosure that relies on it). A commitment is left out when the override
    was recorded before commitments were kept and its person has since been erased."""
    record: dict[str, Any] = {"expires_at": utc(expires_at).isoformat()}
    if recorded_by_hmac is not None:
        record[RECORDED_BY] = recorded_by_hmac
    if reason_hmac is not None:
        record[REASON] = reason_hmac
    return record


def matches(
    item: Any, *, data_key: bytes, override_id: str, recorded_by: str, reason: str, expires_at: datetime
) -> bool:
    """Whether a log entry's lawful-basis ``item`` commits to this override as stored: the same id, expiry,
    author and reason. An item without a commitment does not match (nothing to hold the override to)."""
    if not isinstance(item, dict) or item.get("override_id") != override_id:
        return False
    expected = log_record(
        expires_at,
        commit(data_key, override_id, RECORDED_BY, recorded_by),
        commit(data_key, override_id, REASON, reason),
    )
    return all(
        isinstance(item.get(key), str) and hmac.compare_digest(item[key], value) for key, value in expected.items()
    )
