"""The clinician's sign-off of a subject access report: the serious-harm check before release.

Health data in a subject access report needs a clinician's check that releasing it is not likely to
cause serious harm (DOMAIN.md "Subject access"). A sign-off records who checked (``clinician``), what
they decided, when, and the last log entry the report they checked held (``through_seq``): the report
then says whether it is signed off, and whether entries came after the check. Each sign-off is also a
log entry (``audit:report:signed-off``) in the same transaction, so it is as provable as any
disclosure. A service sees only its own sign-offs, as it sees only its own part of the log.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import log
from gateway.audit.entry import Caller, NewEntry, caller_fields
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.reports import SignOff
from gateway.db.models import SubjectReportSignOff

DECISIONS = ("release", "release-with-redactions", "withhold")
MAX_CLINICIAN = 200


def _of(row: SubjectReportSignOff) -> SignOff:
    return SignOff(
        id=row.id,
        clinician=row.clinician,
        decision=row.decision,
        signed_at=row.signed_at,
        through_seq=row.through_seq,
        disclosure_id=row.disclosure_id,
    )


def latest(session: Session, subject_keys: Sequence[str], agency_code: str | None) -> SignOff | None:
    """The newest sign-off by this service of a report about the person named by any of these keys."""
    if not subject_keys or agency_code is None:
        return None
    row = session.execute(
        select(SubjectReportSignOff)
        .where(SubjectReportSignOff.subject_key.in_(subject_keys))
        .where(SubjectReportSignOff.agency_code == agency_code)
        .order_by(SubjectReportSignOff.through_seq.desc(), SubjectReportSignOff.signed_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if row is None else _of(row)


def latest_by_service(session: Session, subject_keys: Sequence[str]) -> list[tuple[str, SignOff]]:
    """Each L&D service's newest sign-off of a report about the person named by any of these keys, by
    service code: what IG staff, who read the whole log, see beside their own report."""
    if not subject_keys:
        return []
    rows = session.execute(
        select(SubjectReportSignOff)
        .where(SubjectReportSignOff.subject_key.in_(subject_keys))
        .order_by(
            SubjectReportSignOff.agency_code,
            SubjectReportSignOff.through_seq.desc(),
            SubjectReportSignOff.signed_at.desc(),
        )
    ).scalars()
    newest: dict[str, SignOff] = {}
    for row in rows:
        newest.setdefault(row.agency_code, _of(row))
    return sorted(newest.items())


def record(
    tx: Session,
    *,
    subject_keys: Sequence[str],
    caller: Caller,
    clinician: str,
    decision: str,
    through_seq: int,
    now: datetime,
) -> SignOff:
    """Record a sign-off and its log entry in the caller's transaction.

    ``clinician`` is kept in this table only: log entries hold no names, so the entry names the sign-off
    by its id (``decision_id``)."""
    if caller.agency_code is None:
        raise ValueError("only an L&D service signs off its reports")
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    clinician = clinician.strip()
    if not clinician or len(clinician) > MAX_CLINICIAN or not clinician.isprintable():
        raise ValueError(f"clinician is required: printable text, at most {MAX_CLINICIAN} characters")
    sign_off_id = str(uuid.uuid4())
    appended = log.append(
        tx,
        NewEntry(
            event=AuditEvent.SUBJECT_REPORT_SIGNED_OFF,
            outcome=Outcome.DONE,
            created_at=now,
            **caller_fields(caller),
            subject_key=subject_keys[0],
            subject_keys=tuple(subject_keys),
            decision_id=sign_off_id,
        ),
    )
    row = SubjectReportSignOff(
        id=sign_off_id,
        subject_key=subject_keys[0],
        agency_code=caller.agency_code,
        client_id=caller.client_id,
        clinician=clinician,
        decision=decision,
        through_seq=through_seq,
        disclosure_id=appended.disclosure_id,
        signed_at=now,
    )
    tx.add(row)
    tx.flush()
    return _of(row)
