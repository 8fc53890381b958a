"""Notifications about assessments (not requests), built from the disclosure log; no personal data.

- ``assessment.amended``: a new version of an assessment was published; every agency that was released
  an earlier version is told a newer one exists (and pulls it, through the policy, if it still may).
- ``consent.withdrawn``: the new version records consent as withdrawn; the same earlier recipients are
  told to stop relying on what they were given.
- ``assessment.accessed``: every released disclosure is told to the L&D service that published the
  assessment (as CP-IS tells the care provider of each access), with the recipient agency and purpose.

Who the earlier recipients were comes from the disclosure log itself (its released entries for the
assessment), so the answer is the one IG staff can verify.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from gateway.assessments import store
from gateway.audit import queries
from gateway.audit.events import DISCLOSURE_EVENTS, Outcome
from gateway.db.models import Assessment
from gateway.keys import KeyRing


@dataclass(frozen=True)
class Seen:
    """One released (or refused) disclosure of an assessment, as the log recorded it."""

    disclosure_id: str
    at: str
    agency_code: str | None
    agency_type: str | None
    purpose: str | None
    version: int | None
    outcome: str
    released: tuple[str, ...]
    withheld: int

    def to_json(self) -> dict[str, Any]:
        return {
            "disclosure_id": self.disclosure_id,
            "at": self.at,
            "agency_code": self.agency_code,
            "agency_type": self.agency_type,
            "purpose": self.purpose,
            "version": self.version,
            "outcome": self.outcome,
            "released": list(self.released),
            "withheld_count": self.withheld,
        }


def who_saw(session: Session, keyring: KeyRing, assessment: Assessment) -> list[Seen]:
    """Every disclosure or refusal of this assessment, oldest first (the subject's keyed hash narrows the scan)."""
    filters = queries.DisclosureFilter(
        subject_keys=(store.subject_key(keyring, assessment.subject_id),),
        events=tuple(DISCLOSURE_EVENTS),
        assessment_id=assessment.id,
    )
    return [
        Seen(
            disclosure_id=r.disclosure_id,
            at=r.entry["created_at"],
            agency_code=r.agency_code,
            agency_type=r.agency_type,
            purpose=r.purpose,
            version=r.assessment_version,
            outcome=r.outcome,
            released=tuple(r.released),
            withheld=len(r.withheld),
        )
        for r in queries.iter_disclosures(session, filters)
    ]


def earlier_recipients(session: Session, keyring: KeyRing, assessment: Assessment, before_version: int) -> set[str]:
    return {
        s.agency_code
        for s in who_saw(session, keyring, assessment)
        if s.outcome == Outcome.RELEASED and s.agency_code and (s.version or 0) < before_version
    }
