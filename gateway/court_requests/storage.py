"""Where a request's content lives: the Task resource encrypted under its person's data key, and the case
links that accepting or completing a request declares. Erasing the person (crypto-shredding their key)
makes their Tasks unreadable, which is answered as the 404 of an unknown Task.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from gateway.assessments.store import add_case_link, subject_data_key
from gateway.court_requests.results import not_found
from gateway.court_requests.task import validate_resource
from gateway.db.agencies import AgencyRef
from gateway.db.models import RequestTask
from gateway.json_bytes import canonical_json
from gateway.keys import KeyRing, decrypt, encrypt


def store(
    session: Session, keyring: KeyRing, row: RequestTask, resource: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Stamp the Task with the row's version, check it is still a valid Task, encrypt it onto the row."""
    resource = {
        **resource,
        "meta": {"versionId": str(row.version), "lastUpdated": now.isoformat()},
        "lastModified": now.isoformat(),
    }
    resource = validate_resource(resource)
    key = subject_data_key(session, keyring, row.subject_id)
    row.resource_ciphertext = encrypt(key, canonical_json(resource), _aad(row))
    session.flush()
    return resource


def load(session: Session, keyring: KeyRing, row: RequestTask) -> dict[str, Any]:
    """The stored Task resource; an erased person's Task is refused as not found."""
    if row.resource_ciphertext is None:
        raise not_found("erased-task")
    try:
        key = subject_data_key(session, keyring, row.subject_id)
    except LookupError:
        raise not_found("erased-task") from None
    return dict(json.loads(decrypt(key, row.resource_ciphertext, _aad(row))))


def link_case(
    session: Session,
    keyring: KeyRing,
    row: RequestTask,
    agency: AgencyRef,
    assessment_id: str,
    case_reference: str,
    now: datetime,
) -> None:
    """Declare ``agency``'s case on the assessment (once): the legitimate relationship a pull needs.
    Declared by the owning L&D service, on its own assessment: it opens only that service's records."""
    add_case_link(
        session,
        keyring,
        assessment_id=assessment_id,
        subject_id=row.subject_id,
        agency=agency,
        declared_by_agency_id=row.owner_agency_id,
        case_reference=case_reference,
        now=now,
    )


def _aad(row: RequestTask) -> bytes:
    # Bound to the id and version: a stored version cannot be swapped for another Task's or an older one.
    return f"task:{row.id}:{row.version}".encode()
