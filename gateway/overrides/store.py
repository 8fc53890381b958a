"""Recording lawful overrides and reading them for decisions (the I/O side)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.assessments.store import subject_data_key
from gateway.db.models import Assessment, LawfulOverride
from gateway.keys import KeyRing, decrypt, encrypt
from gateway.overrides.commitment import REASON, RECORDED_BY, commit, matches, utc
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
    # The log's commitments to the author and the reason (gateway.overrides.commitment).
    recorded_by_hmac: str
    reason_hmac: str


def _reason_aad(override_id: str) -> bytes:
    return f"override:{override_id}".encode()


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
    """Store one override in the caller's transaction; the reason is encrypted under the subject's key,
    and the author and reason are committed to under the same key (what the log entries carry)."""
    override_id = str(uuid.uuid4())
    key = subject_data_key(session, keyring, assessment.subject_id)
    recorded_by_hmac = commit(key, override_id, RECORDED_BY, request.recorded_by)
    reason_hmac = commit(key, override_id, REASON, request.reason)
    expires_at = utc(request.expires_at)
    row = LawfulOverride(
        id=override_id,
        assessment_id=assessment.id,
        basis=request.basis,
        recipients=list(request.recipients),
        reason_ciphertext=encrypt(key, request.reason.encode("utf-8"), _reason_aad(override_id)),
        recorded_by_hmac=recorded_by_hmac,
        reason_hmac=reason_hmac,
        recorded_by=request.recorded_by,
        recorded_at=utc(now),
        expires_at=expires_at,
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
        expires_at,
        utc(now),
        request.recorded_by,
        recorded_by_hmac,
        reason_hmac,
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
            expires_at=utc(row.expires_at),
            recorded_at=utc(row.recorded_at),
            recorded_by_hmac=row.recorded_by_hmac,
            reason_hmac=row.reason_hmac,
        )
        for row in rows
    ]


def _opened(session: Session, keyring: KeyRing, override_id: object) -> tuple[LawfulOverride, bytes, str] | None:
    """The stored override, its person's data key and its decrypted reason; ``None`` when any is gone."""
    found = _open(session, keyring, override_id)
    return found if isinstance(found, tuple) else None


def _open(
    session: Session, keyring: KeyRing, override_id: object
) -> tuple[LawfulOverride, bytes, str] | CommitmentCheck:
    """As :func:`_opened`, or why not: ``ERASED`` only when the person's data key is gone (erasure destroys
    that one key and nothing else), ``MISMATCH`` when the override, its assessment or its reason is missing
    while the key is there: no lawful path removes those, so it is not to be shown as an erasure."""
    row = session.get(LawfulOverride, override_id) if isinstance(override_id, str) else None
    assessment = None if row is None else session.get(Assessment, row.assessment_id)
    if row is None or assessment is None:
        return CommitmentCheck.MISMATCH
    try:
        key = subject_data_key(session, keyring, assessment.subject_id)
    except LookupError:
        return CommitmentCheck.ERASED
    if row.reason_ciphertext is None:
        return CommitmentCheck.MISMATCH
    return row, key, decrypt(key, row.reason_ciphertext, _reason_aad(row.id)).decode("utf-8")


def read_reason(session: Session, keyring: KeyRing, override_id: str) -> str | None:
    """The practitioner's reason, for IG review; ``None`` when the override or its subject is gone."""
    opened = _opened(session, keyring, override_id)
    return None if opened is None else opened[2]


class CommitmentCheck(StrEnum):
    """What comparing a log entry's commitments with an override as stored now finds."""

    MATCH = "match"
    MISMATCH = "mismatch"  # the entry does not commit to this author, reason and expiry (or to none), or the
    # override, its assessment or its reason is missing while the person's key is still there
    ERASED = "erased"  # the person's data key is gone (erasure): nothing left to compare with


def check_entries(session: Session, keyring: KeyRing, override_id: str, items: Sequence[Any]) -> list[CommitmentCheck]:
    """For each log entry's lawful-basis ``item`` for this override (``None`` when an entry has none),
    whether it commits to the override as stored now (its author, decrypted reason and expiry), so the
    practitioner is held to what the disclosures relied on. The override is opened once for them all."""
    opened = _open(session, keyring, override_id)
    if isinstance(opened, CommitmentCheck):
        return [opened for _ in items]
    row, key, reason = opened
    return [
        CommitmentCheck.MATCH
        if matches(
            item,
            data_key=key,
            override_id=row.id,
            recorded_by=row.recorded_by,
            reason=reason,
            expires_at=row.expires_at,
        )
        else CommitmentCheck.MISMATCH
        for item in items
    ]


def entry_matches_override(session: Session, keyring: KeyRing, item: Any) -> bool:
    """Whether a log entry's lawful-basis ``item`` commits to the override it names as stored now
    (:func:`check_entries`). False when the override, its reason or its subject's key is gone."""
    override_id = item.get("override_id") if isinstance(item, dict) else None
    if not isinstance(override_id, str):
        return False
    return check_entries(session, keyring, override_id, [item]) == [CommitmentCheck.MATCH]
