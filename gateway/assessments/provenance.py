"""What a case link opens: only the assessments of the L&D service that declared it (DOMAIN.md "Provenance").

An assessment belongs to the L&D service that published it. A case link is declared by that service on
its own record (``case_links.declared_by_agency_id`` is the publisher of the assessment that carries it),
so two services' records of one person stay two records: an agency that service B linked sees B's
assessments of the person, never A's, by search or by id, although both are about the same subject.

The relationship check and the load are one query keyed by (subject, agency): the assessments of the
person whose publisher declared a link for the agency, with their current version's ciphertext and the
subject's wrapped key. Nothing is decrypted unless a link opened it.
"""

from __future__ import annotations

import json

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from gateway.assessments import identity
from gateway.assessments.store import StoredAssessment, content_aad
from gateway.db.models import Assessment, AssessmentVersion, CaseLink, Subject
from gateway.keys import KeyRing, decrypt, unwrap_key


def opened_assessments(
    session: Session,
    keyring: KeyRing,
    subject_id: str,
    agency_id: int,
    only: str | None = None,
    limit: int | None = None,
) -> list[StoredAssessment] | None:
    """The person's current assessments that a case link for ``agency_id`` opens, decrypted, oldest first.

    ``None`` when no link opens any of them (no relationship: the caller must answer as for a person
    nobody knows); an empty list when links open assessments that are all erased. ``only`` narrows the
    answer to one assessment id (a read by id), which is opened only by its own publisher's link; ``limit``
    keeps the newest that many (a falsy limit keeps all).
    """
    members = identity.group(session, subject_id)
    declared = select(CaseLink.declared_by_agency_id).where(
        CaseLink.agency_id == agency_id, CaseLink.subject_id.in_(members)
    )
    query = (
        select(
            Assessment.id,
            Assessment.subject_id,
            Assessment.publisher_agency_id,
            AssessmentVersion.version,
            AssessmentVersion.ciphertext,
            Subject.wrapped_key,
        )
        .join(
            AssessmentVersion,
            and_(
                AssessmentVersion.assessment_id == Assessment.id,
                AssessmentVersion.version == Assessment.current_version,
            ),
        )
        .join(Subject, Subject.id == Assessment.subject_id)
        .where(Assessment.subject_id.in_(members), Assessment.publisher_agency_id.in_(declared))
        .order_by(Assessment.created_at.desc(), Assessment.id.desc())
    )
    if only is not None:
        query = query.where(Assessment.id == only)
    if limit:
        query = query.limit(limit)
    rows = list(reversed(session.execute(query).all()))
    if not rows:
        return None
    keys: dict[str, bytes] = {}
    opened = []
    for assessment_id, owner_id, publisher_id, version, ciphertext, wrapped in rows:
        if ciphertext is None or wrapped is None:
            continue
        if owner_id not in keys:
            keys[owner_id] = unwrap_key(keyring.master_key, wrapped, owner_id)
        plaintext = decrypt(keys[owner_id], ciphertext, content_aad(assessment_id, version))
        opened.append(StoredAssessment(assessment_id, version, owner_id, publisher_id, json.loads(plaintext)))
    return opened
