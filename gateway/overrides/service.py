"""Recording a lawful override: the use case behind ``POST /assessments/{id}/overrides``.

:func:`record` runs in the caller's transaction and raises the shared :class:`~gateway.denied.Refusal`;
:func:`run_record` answers it as a value (:class:`Recorded`, or :class:`~gateway.denied.Denied`): the route
only chooses the status. The override and its
disclosure-log entry commit together. A refusal is rolled back whole and then logged on its own
(``ingest:override:denied``, with why), so IG sees a service trying another's assessment, or trying again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import store
from gateway.audit import log
from gateway.audit.entry import NewEntry, caller_fields
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.reasons import Reason
from gateway.auth.rfc9068 import AccessContext
from gateway.db import unit_of_work
from gateway.db.agencies import AgencyDirectory
from gateway.db.models import Agency, Assessment
from gateway.denied import Denied, Refusal, Why
from gateway.issue import Issue
from gateway.keys import KeyRing
from gateway.overrides.commitment import log_record
from gateway.overrides.store import OverrideRecord, record_override
from gateway.overrides.validation import validate_override

__all__ = ["Denied", "Recorded", "Refusal", "Why", "record", "run_record"]


@dataclass(frozen=True)
class Recorded:
    override: OverrideRecord


def record(
    tx: Session,
    keyring: KeyRing,
    agencies: AgencyDirectory,
    ctx: AccessContext,
    assessment_id: str,
    body: Any,
    now: datetime,
) -> Recorded:
    """Record a lawful override of the calling L&D service's assessment, and its log entry, in ``tx``;
    :class:`Refusal` when the assessment is not the caller's or the override is not valid."""
    assessment = tx.get(Assessment, assessment_id)
    publisher = agencies.by_code(tx, ctx.agency_code)
    if assessment is None or publisher is None or assessment.publisher_agency_id != publisher.id:
        # No such assessment, or not one the caller's service published: the same answer.
        raise Refusal(Why.NOT_FOUND, [Issue("not-found", "No such assessment of yours.")], Reason.NO_ASSESSMENT)
    agency_types = {code: type_ for code, type_ in tx.execute(select(Agency.code, Agency.type))}
    override, problems = validate_override(body, now=now, agency_types=agency_types)
    if problems or override is None:
        raise Refusal(Why.INVALID, problems, Reason.OVERRIDE_INVALID)  # every problem; nothing was written
    stored = record_override(
        tx,
        keyring,
        assessment=assessment,
        request=override,
        client_id=ctx.client_id,
        agency_code=ctx.agency_code,
        now=now,
    )
    log.append(
        tx,
        NewEntry(
            event=AuditEvent.OVERRIDE_RECORDED,
            outcome=Outcome.RECORDED,
            created_at=now,
            **caller_fields(ctx),
            subject_key=store.subject_key(keyring, assessment.subject_id),
            assessment_id=assessment.id,
            assessment_version=assessment.current_version,
            overrides=[{"id": stored.id, "basis": stored.basis}],
            ig_review=True,
            lawful_basis=[
                {
                    "basis": stored.basis,
                    "override_id": stored.id,
                    **log_record(stored.expires_at, stored.recorded_by_hmac, stored.reason_hmac),
                }
            ],
        ),
    )
    return Recorded(stored)


def run_record(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    ctx: AccessContext,
    assessment_id: str,
    body: Any,
    *,
    now: datetime,
    agencies: AgencyDirectory | None = None,
) -> Recorded | Denied:
    """:func:`record` as a use case in its own unit of work: the override and its entry commit together."""
    directory = agencies or AgencyDirectory()

    def log_refusal(tx: Session, refusal: Refusal) -> Denied:
        appended = log.append(tx, refusal_entry(tx, keyring, ctx, assessment_id, refusal, now))
        return refusal.denied(appended.disclosure_id)

    # A refusal rolls back whatever the attempt touched, then is logged on its own.
    return unit_of_work.run_or_refuse(
        sessions, lambda tx: record(tx, keyring, directory, ctx, assessment_id, body, now), Refusal, log_refusal
    )


def refusal_entry(
    tx: Session,
    keyring: KeyRing,
    ctx: AccessContext,
    assessment_id: str,
    refusal: Refusal,
    now: datetime,
) -> NewEntry:
    """The log entry of a refused override. The assessment and the person are named only when the
    assessment is the calling service's own (an invalid override). For any other id neither is: the
    path's text is the caller's (the log keeps what it is given for good), and an entry naming another
    service's assessment would show that service, in its view of the log, who else tried it."""
    assessment = tx.get(Assessment, assessment_id) if refusal.why is not Why.NOT_FOUND else None
    return NewEntry(
        event=AuditEvent.OVERRIDE_DENIED,
        outcome=Outcome.DENIED,
        created_at=now,
        **caller_fields(ctx),
        subject_key=None if assessment is None else store.subject_key(keyring, assessment.subject_id),
        assessment_id=None if assessment is None else assessment.id,
        reason=refusal.reason,
    )
