"""The disclosure log entry of each request action: ids and keyed hashes only, never what the caller
sent (the Task id stands in ``decision_id``; a refusal carries its fixed reason code)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from gateway.assessments import store
from gateway.audit import log
from gateway.audit.entry import NewEntry, caller_fields
from gateway.audit.events import AuditEvent, Outcome
from gateway.auth.rfc9068 import AccessContext
from gateway.db.models import RequestTask
from gateway.keys import KeyRing


def record(
    session: Session,
    keyring: KeyRing,
    ctx: AccessContext,
    event: AuditEvent,
    row: RequestTask | None,
    now: datetime,
    *,
    assessment_id: str | None = None,
    reason: str | None = None,
) -> str:
    """Append the entry in ``session``'s transaction; its disclosure id."""
    appended = log.append(
        session,
        NewEntry(
            event=event,
            outcome=Outcome.DENIED if event is AuditEvent.TASK_DENIED else Outcome.RECORDED,
            created_at=now,
            **caller_fields(ctx),
            subject_key=store.subject_key(keyring, row.subject_id) if row else None,
            assessment_id=assessment_id,
            decision_id=row.id if row else None,
            reason=reason,
        ),
    )
    return appended.disclosure_id
