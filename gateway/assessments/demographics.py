"""Whether what a document says of a person agrees with what is on record for the person its identifiers find.

DOMAIN.md: never join on an identifier when name or date of birth contradict it; that is a conflict to
resolve. A mistyped NHS number must not attach a child's assessment to an adult (and open the adult's
record to the child's court), so an identifier joins a publish to a person only when the publish agrees
with the person's records on both elements:

- **date of birth**: the document's must be one on record;
- **family name**: one of the document's family names (official, usual, aliases) must be one on record.

What is on record is, per subject, a keyed hash of each element from every current assessment version
(replaced with each version) plus whatever an L&D administrator accepted when resolving a conflict. Only
hashes are stored; comparing them says *which* element disagrees, never what is stored.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from gateway.db.models import SubjectDemographic
from gateway.keys import KeyRing

FAMILY_NAME = "family-name"
BIRTH_DATE = "birth-date"
#: Where each element lives in the canonical assessment, for OperationOutcome expressions.
EXPRESSIONS = {BIRTH_DATE: "subject.date_of_birth", FAMILY_NAME: "subject.names"}
TITLES = {BIRTH_DATE: "date of birth", FAMILY_NAME: "family name"}

_SPACES = re.compile(r"\s+")


def normalise_family_name(name: str) -> str:
    """Compatibility-normalised, case-folded, whitespace collapsed: ``" HEWITT "`` is ``hewitt``."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", name)).strip().casefold()


@dataclass(frozen=True)
class Facts:
    """Keyed hashes of family names and dates of birth (of one document, or on record for a person)."""

    family_names: frozenset[str] = frozenset()
    birth_dates: frozenset[str] = frozenset()

    def hashes(self) -> Iterable[tuple[str, str]]:
        yield from ((FAMILY_NAME, h) for h in sorted(self.family_names))
        yield from ((BIRTH_DATE, h) for h in sorted(self.birth_dates))


def _hash(keyring: KeyRing, element: str, value: str) -> str:
    return keyring.identifier_hmac(element, value)


def facts_of(keyring: KeyRing, subject: Mapping[str, Any]) -> Facts:
    """What a canonical ``subject`` says: every family name it gives and its date of birth."""
    names = subject.get("names") or []
    families = {
        normalise_family_name(n["family"])
        for n in names
        if isinstance(n, Mapping) and isinstance(n.get("family"), str) and n["family"].strip()
    }
    born = subject.get("date_of_birth")
    return Facts(
        frozenset(_hash(keyring, FAMILY_NAME, f) for f in families),
        frozenset([_hash(keyring, BIRTH_DATE, born)]) if isinstance(born, str) and born else frozenset(),
    )


def given(keyring: KeyRing, family_name: str | None, birth_date: str | None) -> Facts:
    """Facts from a single family name and ISO date of birth (a request's, an administrator's)."""
    return Facts(
        frozenset([_hash(keyring, FAMILY_NAME, normalise_family_name(family_name))]) if family_name else frozenset(),
        frozenset([_hash(keyring, BIRTH_DATE, birth_date)]) if birth_date else frozenset(),
    )


def on_record(session: Session, subject_ids: Iterable[str], *, excluding: str | None = None) -> Facts:
    """Everything on record for these subject records (a merge group), leaving out one assessment's own
    rows (a republish corrects its own record, so what it said before is no evidence against it)."""
    query = select(SubjectDemographic.element, SubjectDemographic.value_hmac).where(
        SubjectDemographic.subject_id.in_(list(subject_ids))
    )
    if excluding is not None:
        query = query.where(
            or_(SubjectDemographic.assessment_id.is_(None), SubjectDemographic.assessment_id != excluding)
        )
    rows = session.execute(query).all()
    return Facts(frozenset(h for e, h in rows if e == FAMILY_NAME), frozenset(h for e, h in rows if e == BIRTH_DATE))


def contradictions(recorded: Facts, document: Facts) -> list[str]:
    """The elements on which ``document`` disagrees with what is on record (nothing on record: nothing)."""
    found = []
    if recorded.birth_dates and not document.birth_dates & recorded.birth_dates:
        found.append(BIRTH_DATE)
    if recorded.family_names and not document.family_names & recorded.family_names:
        found.append(FAMILY_NAME)
    return found


def agrees(recorded: Facts, stated: Facts) -> bool:
    """Both elements stated, and both on record as stated (the check a PNC ID always needs)."""
    return bool(stated.family_names & recorded.family_names and stated.birth_dates & recorded.birth_dates)


def record(
    session: Session,
    keyring: KeyRing,
    *,
    subject_id: str,
    assessment_id: str,
    subject: Mapping[str, Any],
    now: datetime,
) -> None:
    """What this assessment's new current version says replaces what its earlier version said."""
    session.execute(delete(SubjectDemographic).where(SubjectDemographic.assessment_id == assessment_id))
    for element, value_hmac in facts_of(keyring, subject).hashes():
        session.add(
            SubjectDemographic(
                subject_id=subject_id,
                assessment_id=assessment_id,
                element=element,
                value_hmac=value_hmac,
                recorded_at=now,
            )
        )
    session.flush()


def accept(
    session: Session,
    keyring: KeyRing,
    *,
    subject_id: str,
    family_name: str | None,
    birth_date: str | None,
    by: str,
    reference: str | None,
    now: datetime,
) -> list[str]:
    """An administrator's decision that this family name and/or date of birth are also this person's.

    Returns the elements accepted. The caller logs the decision.
    """
    accepted = []
    for element, value_hmac in given(keyring, family_name, birth_date).hashes():
        session.add(
            SubjectDemographic(
                subject_id=subject_id,
                assessment_id=None,
                element=element,
                value_hmac=value_hmac,
                recorded_at=now,
                accepted_by=by,
                reference=reference,
            )
        )
        accepted.append(element)
    session.flush()
    return accepted
