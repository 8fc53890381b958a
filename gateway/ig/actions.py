"""Staff actions go into the disclosure log, like every disclosure (``ig:...`` events).

The actor is named by the opaque staff account id (``client_id`` = ``staff:<id>``), never by a name;
a person looked up is named only by their subject key, as every disclosure names them; details are
fixed texts and identifiers chosen by the gateway, never free text a user typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome


def actor(staff_id: str | None) -> str | None:
    return None if staff_id is None else f"staff:{staff_id}"


def record(
    session: Session,
    event: AuditEvent,
    staff_id: str | None,
    *,
    outcome: Outcome = Outcome.DONE,
    reason: str | None = None,
    subject_key: str | None = None,
    subject_keys: Sequence[str] = (),
    agency_code: str | None = None,
    now: datetime | None = None,
) -> str:
    """Append one staff action to the log in the caller's transaction; return its id.

    ``subject_keys``: every person the action showed (a look-up); the first is also ``subject_key``.
    """
    if subject_keys:
        subject_key = subject_keys[0]
    appended = log.append(
        session,
        NewEntry(
            event=event,
            outcome=outcome,
            created_at=now or datetime.now(UTC),
            client_id=actor(staff_id),
            agency_code=agency_code,
            subject_key=subject_key,
            subject_keys=tuple(subject_keys),
            reason=reason,
        ),
    )
    return appended.disclosure_id
