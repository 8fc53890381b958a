"""Who a request names: one person that every identifier given points to, whose name and date of birth agree.

A requester (a court asking for an assessment) must learn nothing about people it names wrongly: an
unknown NHS number beside a known PNC ID, an NHS number and a PNC ID of two different people, a PNC ID
with someone else's name or date of birth all answer exactly as a person nobody knows does. So the
match is all or nothing, and the reason it failed is for the log only.

A PNC ID is easy to mistype into someone else's, so it always needs the family name and date of birth
(the request parser insists on them); given with an NHS number, they are checked just the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from gateway.assessments import demographics, identity, store
from gateway.keys import KeyRing


@dataclass(frozen=True)
class Match:
    """The person, or ``None`` with the log's fixed reason (never shown to the requester)."""

    subject_id: str | None
    reason: str | None = None


def match_person(
    session: Session,
    keyring: KeyRing,
    *,
    nhs_number: str | None,
    pnc_id: str | None,
    family_name: str | None,
    birth_date: date | None,
) -> Match:
    given = [(store.NHS_NUMBER, nhs_number), (store.PNC_ID, pnc_id)]
    found = {system: store.find_subject_id(session, keyring, system, value) for system, value in given if value}
    if not found or all(subject is None for subject in found.values()):
        return Match(None, "unknown-subject")
    if any(subject is None for subject in found.values()):
        return Match(None, "identifier-unknown")
    people = set(found.values())
    if len(people) > 1:
        return Match(None, "ambiguous-subject")
    (subject_id,) = people
    assert subject_id is not None
    stated = demographics.given(keyring, family_name, birth_date.isoformat() if birth_date else None)
    needs_check = pnc_id is not None or family_name is not None or birth_date is not None
    if needs_check:
        recorded = demographics.on_record(session, identity.group(session, subject_id))
        if not demographics.agrees(recorded, stated):
            return Match(None, "subject-mismatch")
    return Match(subject_id)
