"""Recording lawful overrides and reading them for decisions (the I/O side)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db.models import Assessment, LawfulOverride, Subject
from gateway.keys import KeyRing, decrypt, encrypt, unwrap_key
from gateway.overrides.validation import OverrideRequest
from gateway.policy.input import OverrideFacts


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    id: str
    assessment_id: str
    basis: str
    recipients: tuple[str, ...]
    expires_at: datetime
    recorded_at: datetime
    recorded_by: str
    reason_sha256: str


def reason_hash(reason: str) -> str:
    """What the disclosure log keeps of a reason: the SHA-256 (hex) of its UTF-8 text as recorded, so IG
    staff can show the reason read later is the one the disclosures relied on (``sha256sum`` agrees)."""
    return hashlib.sha256(reason.encode("utf-8")).hexdigest()


def log_record(recorded_by: str | None, expires_at: datetime, reason_sha256: str | None) -> dict[str, Any]:
    """The override's author, expiry and reason hash, as every log entry that names the override carries
    them (its recording, and each disclosure that relies on it)."""
    record: dict[str, Any] = {"recorded_by": recorded_by, "expires_at": _aware(expires_at).isoformat()}
    if reason_sha256 is not None:  # recorded before hashes were kept, and its person since erased
        record["reason_sha256"] = reason_sha256
    return record


def _reason_aad(override_id: str) -> bytes:
    return f"override:{override_id}".encode()


def _data_key(session: Session, keyring: KeyRing, subject_id: str) -> bytes:
    subject = session.get(Subject, subject_id)
    if subject is None or subject.wrapped_key is None:
        raise LookupError("subject erased")
    return unwrap_key(keyring.master_key, subject.wrapped_key, subject.id)


def record_override(
    session: Session,
    keyring: KeyRing,
    *,
    assessment: Assessment,
    request: OverrideRequest,
    client_id: str,
    agency_code: str,
    now: datetime,
) -> OverrideRecord:
    """Store one override in the caller's transaction; the reason is encrypted under the subject's key."""
    override_id = str(uuid.uuid4())
    key = _data_key(session, keyring, assessment.subject_id)
    reason_sha256 = reason_hash(request.reason)
    row = LawfulOverride(
        id=override_id,
        assessment_id=assessment.id,
        basis=request.basis,
        recipients=list(request.recipients),
        reason_ciphertext=encrypt(key, request.reason.encode("utf-8"), _reason_aad(override_id)),
        reason_sha256=reason_sha256,
        recorded_by=request.recorded_by,
        recorded_at=now,
        expires_at=request.expires_at,
        client_id=client_id,
        agency_code=agency_code,
    )
    session.add(row)
    session.flush()
    return OverrideRecord(
        override_id,
        assessment.id,
        request.basis,
        request.recipients,
        request.expires_at,
        now,
        request.recorded_by,
        reason_sha256,
    )


def facts_for_assessment(session: Session, assessment_id: str) -> list[OverrideFacts]:
    """Every override recorded against the assessment (expired ones too: the policy input keeps only
    those in force at the decision's instant)."""
    rows = session.execute(
        select(LawfulOverride).where(LawfulOverride.assessment_id == assessment_id).order_by(LawfulOverride.id)
    ).scalars()
    return [
        OverrideFacts(
            id=row.id,
            basis=row.basis,
            recipients=tuple(row.recipients),
            expires_at=_aware(row.expires_at),
            recorded_at=_aware(row.recorded_at),
            recorded_by=row.recorded_by,
            reason_sha256=row.reason_sha256,
        )
        for row in rows
    ]


def read_reason(session: Session, keyring: KeyRing, override_id: str) -> str | None:
    """The practitioner's reason, for IG review; ``None`` when the override or its subject is gone."""
    row = session.get(LawfulOverride, override_id)
    if row is None or row.reason_ciphertext is None:
        return None
    assessment = session.get(Assessment, row.assessment_id)
    if assessment is None:
        return None
    try:
        key = _data_key(session, keyring, assessment.subject_id)
    except LookupError:
        return None
    return decrypt(key, row.reason_ciphertext, _reason_aad(row.id)).decode("utf-8")


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every instant the gateway stores is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
