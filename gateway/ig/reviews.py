"""IG review of lawful overrides: the queue, one override with the disclosures that relied on it, and
the reviewer's decision (approve, or raise a concern) with a note.

The practitioner's reason and the reviewer's note may describe the person, so both are kept encrypted
under the subject's data key (erasing the person erases them); the log records only that a review
happened, its decision and the override id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.assessments.store import subject_data_key
from gateway.audit import queries
from gateway.db.models import Assessment, LawfulOverride, OverrideReview
from gateway.keys import KeyRing, decrypt, encrypt
from gateway.overrides.store import CommitmentCheck, check_entries, read_reason

MAX_NOTE = 2000


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    CONCERN = "concern"  # raise a concern: the sharing needs follow-up with the L&D service


@dataclass(frozen=True)
class ReviewView:
    decision: str
    note: str | None
    reviewer: str
    reviewed_at: datetime


#: A release that relied on an override: its id, when, agency, purpose, and whether the entry's
#: commitments match the override as stored now.
ReliedOn = tuple[str, datetime, str | None, str | None, CommitmentCheck]


@dataclass(frozen=True)
class OverrideView:
    id: str
    assessment_id: str
    basis: str
    recipients: tuple[str, ...]
    recorded_by: str
    recorded_at: datetime
    expires_at: datetime
    agency_code: str
    reason: str | None
    # The person's data key is gone (erasure): a missing reason is then lawful, otherwise it is not.
    erased: bool
    review: ReviewView | None
    disclosures: list[ReliedOn]
    # The entry that recorded the override, and the same check; None if the log holds no such entry.
    recorded_entry: tuple[str, CommitmentCheck] | None


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _note_aad(review_id: str) -> bytes:
    return f"override-review:{review_id}".encode()


def _data_key(session: Session, keyring: KeyRing, assessment_id: str) -> bytes | None:
    """The data key of the person the assessment is about; None once they are erased."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        return None
    try:
        return subject_data_key(session, keyring, assessment.subject_id)
    except LookupError:
        return None


def queue(session: Session) -> list[LawfulOverride]:
    """Overrides no one has reviewed yet, oldest first."""
    reviewed = select(OverrideReview.override_id)
    return list(
        session.execute(
            select(LawfulOverride).where(LawfulOverride.id.not_in(reviewed)).order_by(LawfulOverride.recorded_at)
        ).scalars()
    )


def reviewed(session: Session, limit: int = 50) -> list[tuple[LawfulOverride, OverrideReview]]:
    rows = session.execute(
        select(LawfulOverride, OverrideReview)
        .join(OverrideReview, OverrideReview.override_id == LawfulOverride.id)
        .order_by(OverrideReview.reviewed_at.desc())
        .limit(limit)
    ).all()
    return [(o, r) for o, r in rows]


def awaiting_count(session: Session) -> int:
    return len(queue(session))


def _basis_item(record: queries.DisclosureRecord, override_id: str) -> dict[str, Any] | None:
    """The entry's lawful-basis item for this override: what the entry commits to."""
    return next((b for b in record.lawful_basis if b.get("override_id") == override_id), None)


def _entries(
    session: Session, keyring: KeyRing, override_id: str
) -> tuple[list[ReliedOn], tuple[str, CommitmentCheck] | None]:
    """The releases that relied on the override and the entry that recorded it, each with the check of
    its commitments against the override as stored now (a changed author, reason or expiry shows)."""
    relied_on = queries.relying_on_override(session, override_id)
    recorded = queries.override_recorded(session, override_id)
    records = [*relied_on, *([recorded] if recorded is not None else [])]
    checks = check_entries(session, keyring, override_id, [_basis_item(r, override_id) for r in records])
    disclosures = [
        (r.disclosure_id, r.created_at, r.agency_code, r.purpose, check)
        for r, check in zip(relied_on, checks, strict=False)
    ]
    return disclosures, (None if recorded is None else (recorded.disclosure_id, checks[-1]))


def view(session: Session, keyring: KeyRing, override_id: str) -> OverrideView | None:
    row = session.get(LawfulOverride, override_id)
    if row is None:
        return None
    review = session.execute(
        select(OverrideReview).where(OverrideReview.override_id == override_id)
    ).scalar_one_or_none()
    review_view = None
    key = _data_key(session, keyring, row.assessment_id)
    if review is not None:
        note = None
        if key is not None and review.note_ciphertext is not None:
            note = decrypt(key, review.note_ciphertext, _note_aad(review.id)).decode("utf-8")
        review_view = ReviewView(review.decision, note, review.reviewer_id, _aware(review.reviewed_at))
    disclosures, recorded_entry = _entries(session, keyring, override_id)
    return OverrideView(
        id=row.id,
        assessment_id=row.assessment_id,
        basis=row.basis,
        recipients=tuple(row.recipients),
        recorded_by=row.recorded_by,
        recorded_at=_aware(row.recorded_at),
        expires_at=_aware(row.expires_at),
        agency_code=row.agency_code,
        reason=read_reason(session, keyring, override_id),
        erased=key is None,
        review=review_view,
        disclosures=disclosures,
        recorded_entry=recorded_entry,
    )


class ReviewError(ValueError):
    pass


def record_review(
    session: Session,
    keyring: KeyRing,
    *,
    override_id: str,
    reviewer_id: str,
    decision: str,
    note: str,
    now: datetime,
) -> OverrideReview:
    """Store one review (an override is reviewed once). The caller has validated the input."""
    override = session.get(LawfulOverride, override_id)
    if override is None:
        raise ReviewError("no such override")
    if session.execute(select(OverrideReview).where(OverrideReview.override_id == override_id)).first():
        raise ReviewError("this override has already been reviewed")
    review_id = str(uuid.uuid4())
    key = _data_key(session, keyring, override.assessment_id)
    note = note.strip()
    review = OverrideReview(
        id=review_id,
        override_id=override_id,
        reviewer_id=reviewer_id,
        decision=str(ReviewDecision(decision)),
        note_ciphertext=encrypt(key, note.encode("utf-8"), _note_aad(review_id)) if key and note else None,
        reviewed_at=now,
    )
    session.add(review)
    session.flush()
    return review


def validate(decision: str, note: str) -> list[tuple[str, str]]:
    problems = []
    if decision not in {d.value for d in ReviewDecision}:
        problems.append(("decision", "Choose whether to approve the override or raise a concern"))
    if decision == ReviewDecision.CONCERN and not note.strip():
        problems.append(("note", "Say what the concern is"))
    if len(note) > MAX_NOTE:
        problems.append(("note", f"The note must be {MAX_NOTE} characters or fewer"))
    return problems
