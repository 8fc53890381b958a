"""The parties to a request: the calling agency, the person the request is about, and the L&D service
that owns it (the publisher of that person's most recently updated assessment)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.assessments import matching
from gateway.auth.vocab import AgencyType
from gateway.court_requests.results import UNKNOWN_PERSON_TEXT, Refusal, Why
from gateway.court_requests.task import NewRequest
from gateway.db.agencies import AgencyDirectory, AgencyRef
from gateway.db.models import Agency, Assessment, Subject
from gateway.issue import Issue
from gateway.keys import KeyRing


def calling_agency(session: Session, agencies: AgencyDirectory, code: str) -> AgencyRef:
    """The caller's agency; a token for an agency no longer registered is refused."""
    agency = agencies.by_code(session, code)
    if agency is None:
        raise Refusal(Why.FORBIDDEN, [Issue("forbidden", "the calling agency is not registered")], "unknown-agency")
    return agency


def match_subject(session: Session, keyring: KeyRing, parsed: NewRequest) -> str:
    """Every identifier one person, name and date of birth agreeing (``assessments.matching``); any
    other case answers exactly as a person nobody knows, the reason going to the log only."""
    match = matching.match_person(
        session,
        keyring,
        nhs_number=parsed.nhs_number,
        pnc_id=parsed.pnc_id,
        family_name=parsed.family_name,
        birth_date=parsed.birth_date,
    )
    if match.subject_id is None:
        raise Refusal(
            Why.INVALID, [Issue("not-found", UNKNOWN_PERSON_TEXT, "Task.for")], match.reason or "unknown-subject"
        )
    return match.subject_id


def owner_of(session: Session, agencies: AgencyDirectory, subject_id: str) -> AgencyRef:
    """The L&D service that published the person's most recently updated assessment (not erased)."""
    owner_id = session.execute(
        select(Agency.id)
        .join(Assessment, Assessment.publisher_agency_id == Agency.id)
        .join(Subject, Subject.id == Assessment.subject_id)
        .where(
            Assessment.subject_id == subject_id,
            Subject.wrapped_key.is_not(None),
            Agency.type == AgencyType.LD_SERVICE.value,
        )
        .order_by(Assessment.updated_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    owner = None if owner_id is None else agencies.by_id(session, owner_id)
    if owner is None:
        raise Refusal(Why.INVALID, [Issue("not-found", UNKNOWN_PERSON_TEXT, "Task.for")], "unknown-subject")
    return owner
