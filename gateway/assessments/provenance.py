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

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, Row, Select, String, and_, bindparam, func, select
from sqlalchemy.orm import Session

from gateway.assessments import identity
from gateway.assessments.store import StoredAssessment, content_aad
from gateway.db.models import Agency, Assessment, AssessmentVersion, CaseLink, LawfulOverride, Subject
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
    # One statement: the merge group as a recursive CTE, the lawful overrides of each assessment as a
    # JSON array beside it (what the decision needs of them), the content to decrypt. Built once per
    # shape with bound parameters: building it per request cost more than running it.
    query = _opened_query(session.get_bind().dialect.name, only is not None, bool(limit))
    params: dict[str, Any] = {"root_id": subject_id, "agency_id": agency_id}
    if only is not None:
        params["only"] = only
    if limit:
        params["limit"] = limit
    # On the connection, not through the ORM session: plain columns, and the ORM's execution layer
    # around a Core-shaped select cost as much as the statement.
    rows: Sequence[Row[str, str, int, int, bytes | None, bytes | None, Any]]
    rows = session.connection().execute(query, params).all()[::-1]
    if not rows:
        return None
    keys: dict[str, bytes] = {}
    opened = []
    for assessment_id, owner_id, publisher_id, version, ciphertext, wrapped, overrides in rows:
        if ciphertext is None or wrapped is None:
            continue
        if owner_id not in keys:
            keys[owner_id] = unwrap_key(keyring.master_key, wrapped, owner_id)
        plaintext = decrypt(keys[owner_id], ciphertext, content_aad(assessment_id, version))
        content = json.loads(plaintext)
        opened.append(StoredAssessment(assessment_id, version, owner_id, publisher_id, content, _facts(overrides)))
    return opened


@functools.cache
def _opened_query(dialect: str, only: bool, limit: bool) -> Select[str, str, int, int, bytes | None, bytes | None, Any]:
    """Rows of the assessment, its subject (the key's owner), publisher, current version, its ciphertext,
    the subject's wrapped key (None once erased) and the overrides as JSON."""
    members = identity.group_members(bindparam("root_id", type_=String))
    declared = select(CaseLink.declared_by_agency_id).where(
        CaseLink.agency_id == bindparam("agency_id"), CaseLink.subject_id.in_(members)
    )
    query = (
        select(
            Assessment.id,
            Assessment.subject_id,
            Assessment.publisher_agency_id,
            AssessmentVersion.version,
            AssessmentVersion.ciphertext,
            Subject.wrapped_key,
            _overrides_json(dialect),
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
    if only:
        query = query.where(Assessment.id == bindparam("only"))
    if limit:
        query = query.limit(bindparam("limit", type_=Integer))
    return query


def _overrides_json(dialect: str) -> Any:
    """A correlated subquery: the assessment's lawful overrides as one JSON array (each id, basis,
    recipients, times, author and reason hash), so the decision needs no statement of its own to read them."""
    o = LawfulOverride
    if dialect == "postgresql":
        # json_build_object renders a timestamptz in the session's TimeZone; converted to a plain UTC
        # timestamp first, the instants (and the log entries made from them) do not depend on how the
        # connection was set up.
        aggregate = func.json_agg(
            func.json_build_object(
                "id", o.id, "basis", o.basis, "recipients", o.recipients,
                "expires_at", func.timezone("UTC", o.expires_at),
                "recorded_at", func.timezone("UTC", o.recorded_at),
                "recorded_by_hmac", o.recorded_by_hmac, "reason_hmac", o.reason_hmac,
            )
        )  # fmt: skip
    else:
        aggregate = func.json_group_array(
            func.json_object(
                "id", o.id, "basis", o.basis, "recipients", func.json(o.recipients),
                "expires_at", o.expires_at, "recorded_at", o.recorded_at,
                "recorded_by_hmac", o.recorded_by_hmac, "reason_hmac", o.reason_hmac,
            )
        )  # fmt: skip
    return select(aggregate).where(o.assessment_id == Assessment.id).scalar_subquery()


def _facts(value: Any) -> tuple[dict[str, Any], ...]:
    """The JSON array of :func:`_overrides_json` (text on SQLite, parsed on PostgreSQL; NULL when none)."""
    items = json.loads(value) if isinstance(value, str) else (value or [])
    return tuple(
        {
            "id": item["id"],
            "basis": item["basis"],
            "recipients": tuple(item["recipients"]),
            "expires_at": _aware(item["expires_at"]),
            "recorded_at": _aware(item["recorded_at"]),
            "recorded_by_hmac": item.get("recorded_by_hmac"),
            "reason_hmac": item.get("reason_hmac"),
        }
        for item in sorted(items, key=lambda i: i["id"])  # as facts_for_assessment orders them
    )


def _aware(value: str) -> datetime:
    # Naive UTC text on both databases (PostgreSQL's rendered at UTC above); an offset, were one to
    # appear, is normalised so that a log entry's bytes are the same whichever database wrote them.
    parsed = datetime.fromisoformat(value)
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Published:
    """What an L&D service has published: its assessments, and the people they are about (each record's own
    subject id and the one it resolves to now, since the log names a person as they resolved when logged)."""

    assessment_ids: frozenset[str]
    subject_ids: frozenset[str]


def published_by(session: Session, agency_code: str) -> Published:
    """Every assessment this agency published, and whom about: what its ``audit.read`` covers in the log."""
    rows = session.execute(
        select(Assessment.id, Assessment.subject_id)
        .join(Agency, Agency.id == Assessment.publisher_agency_id)
        .where(Agency.code == agency_code)
    ).all()
    subjects = {subject for _, subject in rows}
    return Published(
        frozenset(a for a, _ in rows), frozenset(subjects | {identity.resolve(session, s) for s in subjects})
    )
