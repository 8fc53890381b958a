"""Encrypted storage of canonical assessments, subjects and case links (the I/O side).

Nothing personal is stored in the clear. Identifiers are stored as keyed hashes (for lookup), and the
canonical JSON and case references as AES-256-GCM ciphertext under the subject's data key. Destroying
that one wrapped key erases everything readable about the person.

Why one module of over 400 lines: it is the one place that knows the encrypted layout (which key
encrypts what, under which associated data: ``content_aad``, ``case-reference:{assessment}:{agency}``;
which identifiers are hashed, in which normalised form). Every write (``publish``) and every read or
erasure of that content sits beside it, so that a change to the layout is made, and reviewed, once.
Matching people (``identity``, ``matching``), demographics and provenance, which only use the layout,
are modules of their own.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, or_, select, update
from sqlalchemy.orm import Session

from gateway.assessments import demographics, identity
from gateway.assessments.identifiers import normalise_pnc_id
from gateway.db.agencies import AgencyRef
from gateway.db.models import (
    Agency,
    Assessment,
    AssessmentVersion,
    CaseLink,
    Subject,
    SubjectDemographic,
    SubjectIdentifier,
    SubjectMerge,
)
from gateway.issue import Issue
from gateway.json_bytes import canonical_json
from gateway.keys import KeyRing, decrypt, encrypt, new_data_key, unwrap_key, wrap_key

# Identifier systems used in the lookup table, in matching order: an NHS number decides first, then
# the PNC ID. Names and dates of birth are never used to match (DOMAIN.md: never merge on them alone).
NHS_NUMBER = "nhs-number"
PNC_ID = "pnc-id"
_MATCH_ORDER = ((NHS_NUMBER, "nhs_number"), (PNC_ID, "pnc_id"))


class StoreError(Exception):
    """A publish that cannot be stored as given; ``problems`` says why, each where it is."""

    def __init__(self, problems: Sequence[Issue]) -> None:
        super().__init__("; ".join(p.diagnostics for p in problems))
        self.problems = list(problems)


class IdentityConflict(StoreError):
    """A publish whose identifiers are on record for a person it contradicts (or for two people).

    ``identifiers`` are the lookup systems that matched (``nhs-number``, ``pnc-id``); ``elements`` the
    ones that disagree (``demographics.BIRTH_DATE``, ``FAMILY_NAME``), empty when the identifiers point
    to two different people. Never any stored value. Resolving it is an administrator's decision.
    """

    def __init__(self, subject_ids: Sequence[str], identifiers: Sequence[str], elements: Sequence[str]) -> None:
        super().__init__([Issue("conflict", "identity conflict: " + ", ".join([*identifiers, *elements]), "subject")])
        self.subject_ids = tuple(subject_ids)
        self.identifiers = tuple(identifiers)
        self.elements = tuple(elements)


@dataclass(frozen=True)
class Published:
    assessment_id: str
    version: int
    subject_id: str
    created: bool
    #: False when the content was identical to the current version's: no new version was made.
    changed: bool = True


@dataclass(frozen=True)
class StoredAssessment:
    assessment_id: str
    version: int
    subject_id: str
    publisher_agency_id: int
    content: dict[str, Any]
    # The lawful overrides recorded against it, when read with it (provenance.opened_assessments), each
    # ``{id, basis, recipients, expires_at, recorded_at}`` (aware datetimes), ordered by id; ``None``:
    # not read, ask gateway.overrides.
    overrides: tuple[Mapping[str, Any], ...] | None = None


def content_aad(assessment_id: str, version: int) -> bytes:
    return f"assessment:{assessment_id}:{version}".encode()


def subject_data_key(session: Session, keyring: KeyRing, subject_id: str) -> bytes:
    """The person's data key (everything readable about them is under it); ``LookupError`` once erased."""
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise LookupError("no such subject")
    return _subject_data_key(keyring, subject)


def _subject_data_key(keyring: KeyRing, subject: Subject) -> bytes:
    if subject.wrapped_key is None:
        raise LookupError("subject erased")
    return unwrap_key(keyring.master_key, subject.wrapped_key, subject.id)


def identifier_key(keyring: KeyRing, system: str, value: str) -> str:
    """The keyed hash an identifier is stored and found under, taken over its one normalised form."""
    return keyring.identifier_hmac(system, normalise_pnc_id(value) if system == PNC_ID else value)


def subject_key(keyring: KeyRing, subject_id: str) -> str:
    """The keyed hash the disclosure log records a person under (its search key), never their record's id."""
    return keyring.identifier_hmac("subject", subject_id)


def case_reference_key(keyring: KeyRing, agency_code: str, case_reference: str) -> str:
    """The keyed hash a case reference is stored and found under: per agency, since a reference is
    unique only within the agency that gave it."""
    return keyring.identifier_hmac(f"case-reference:{agency_code}", case_reference)


def add_case_link(
    session: Session,
    keyring: KeyRing,
    *,
    assessment_id: str,
    subject_id: str,
    agency: AgencyRef | Agency,
    declared_by_agency_id: int,
    case_reference: str,
    now: datetime,
    data_key: bytes | None = None,
    recorded: set[tuple[int, str]] | None = None,
) -> bool:
    """Declare ``agency``'s case on the assessment, once (whether it was added): the legitimate relationship
    a pull needs, opening only the declarer's own assessments. The reference is kept as its keyed hash
    and as ciphertext under the person's data key (``data_key`` when the caller holds it already).

    ``recorded``: the links already on record for this assessment when the caller knows them all (publish
    has just replaced them), so none is asked of the database; it is added to.
    """
    digest = case_reference_key(keyring, agency.code, case_reference)
    if recorded is None:
        exists = session.execute(
            select(CaseLink.id).where(
                CaseLink.assessment_id == assessment_id,
                CaseLink.agency_id == agency.id,
                CaseLink.case_reference_hmac == digest,
            )
        ).first()
        if exists:
            return False
    elif (agency.id, digest) in recorded:
        return False
    else:
        recorded.add((agency.id, digest))
    key = data_key if data_key is not None else subject_data_key(session, keyring, subject_id)
    session.add(
        CaseLink(
            assessment_id=assessment_id,
            subject_id=subject_id,
            agency_id=agency.id,
            declared_by_agency_id=declared_by_agency_id,
            case_reference_hmac=digest,
            case_reference_ciphertext=encrypt(
                key, case_reference.encode(), f"case-reference:{assessment_id}:{agency.id}".encode()
            ),
            created_at=now,
        )
    )
    return True


_FIND_SUBJECT = (
    select(SubjectIdentifier.subject_id, SubjectMerge.into_subject_id)
    .outerjoin(
        SubjectMerge,
        and_(SubjectMerge.subject_id == SubjectIdentifier.subject_id, SubjectMerge.unmerged_at.is_(None)),
    )
    .where(SubjectIdentifier.system == bindparam("system"), SubjectIdentifier.value_hmac == bindparam("digest"))
)


def find_subject_id(session: Session, keyring: KeyRing, system: str, value: str) -> str | None:
    """The subject this identifier belongs to, after merges (``identity.resolve``)."""
    digest = identifier_key(keyring, system, value)
    # The identifier and its record's active merge in one statement (the disclosure hot path starts
    # here); only a record merged into one that was merged again needs more (identity.resolve).
    # Built once with bound parameters and run on the connection: through the ORM session, building
    # and compiling it per request cost more than running it.
    row = session.connection().execute(_FIND_SUBJECT, {"system": system, "digest": digest}).one_or_none()
    if row is None:
        return None
    found, into = row
    return found if into is None else identity.resolve(session, into)


def _case_reference_match(
    session: Session, keyring: KeyRing, subject: Mapping[str, Any], links: Sequence[tuple[Agency, str]]
) -> str | None:
    """The one person already linked to one of these agency case references, when nothing contradicts it.

    A police case can have several defendants, so a case reference alone is weak: a candidate is
    dropped when it has an NHS number (or PNC ID) and the document brings one of its own (which, since
    it did not match, is a different one), or when their family name or date of birth disagree. Two or
    more candidates left: no match (an administrator can merge later), never a guess.
    """
    # A fixed number of statements however many people share these references (co-defendants share
    # case URNs): the candidates, their merges and their identifier systems are each read in one go.
    pairs = {(agency.id, case_reference_key(keyring, agency.code, ref)) for agency, ref in links}
    if not pairs:
        return None
    linked = session.execute(
        select(CaseLink.subject_id)
        .where(or_(*(and_(CaseLink.agency_id == a, CaseLink.case_reference_hmac == h) for a, h in pairs)))
        .distinct()
    ).scalars()
    candidates = set(identity.resolve_many(session, linked).values())
    if not candidates:
        return None
    groups = identity.group_many(session, candidates)
    root_of = {member: root for root, members in groups.items() for member in members}
    systems: dict[str, set[str]] = {root: set() for root in groups}
    for subject_id, system in session.execute(
        select(SubjectIdentifier.subject_id, SubjectIdentifier.system).where(
            SubjectIdentifier.subject_id.in_(list(root_of))
        )
    ):
        systems[root_of[subject_id]].add(system)
    facts = demographics.facts_of(keyring, subject)
    viable = [
        candidate
        for candidate in sorted(candidates)
        if not any(subject.get(key) and system in systems[candidate] for system, key in _MATCH_ORDER)
        # A shared case reference never joins people whose family name or date of birth disagree.
        and not demographics.contradictions(demographics.on_record(session, groups[candidate]), facts)
    ]
    return viable[0] if len(viable) == 1 else None


def _resolve_subject(
    session: Session,
    keyring: KeyRing,
    subject: Mapping[str, Any],
    links: Sequence[tuple[Agency, str]] = (),
    republishing: str | None = None,
) -> str | None:
    """The person this document is about, or ``None`` for a new one; :class:`IdentityConflict` when its
    identifiers are on record for two people, or for a person whose family name or date of birth differ."""
    found: dict[str, str] = {}
    for system, key in _MATCH_ORDER:
        value = subject.get(key)
        if value:
            subject_id = find_subject_id(session, keyring, system, value)
            if subject_id:
                found[system] = subject_id
    if len(set(found.values())) > 1:
        raise IdentityConflict(sorted(set(found.values())), list(found), ())
    if found:
        subject_id = next(iter(found.values()))
        recorded = demographics.on_record(session, identity.group(session, subject_id), excluding=republishing)
        elements = demographics.contradictions(recorded, demographics.facts_of(keyring, subject))
        if elements:
            raise IdentityConflict([subject_id], list(found), elements)
        return subject_id
    return _case_reference_match(session, keyring, subject, links)


def publish(
    session: Session,
    keyring: KeyRing,
    *,
    publisher: AgencyRef | Agency,
    document: Mapping[str, Any],
    now: datetime,
) -> Published:
    """Store a validated, normalised canonical assessment: new assessment, or new version of one.

    Runs inside the caller's transaction; on any error nothing of it is kept.
    """
    agencies = _agencies_for_links(session, document["case_links"])
    link_refs = [
        (agency, link["case_reference"]) for agency, link in zip(agencies, document["case_links"], strict=True)
    ]
    local_ref = keyring.identifier_hmac(f"local-reference:{publisher.code}", document["local_reference"])
    assessment = session.execute(
        select(Assessment).where(
            Assessment.publisher_agency_id == publisher.id, Assessment.local_reference_hmac == local_ref
        )
    ).scalar_one_or_none()
    subject_id = _resolve_subject(
        session, keyring, document["subject"], link_refs, republishing=assessment.id if assessment else None
    )
    if subject_id is None:
        subject_id = str(uuid.uuid4())
        session.add(
            Subject(
                id=subject_id,
                wrapped_key=wrap_key(keyring.master_key, new_data_key(), subject_id),
                master_key_id=keyring.master_key_id,
                created_at=now,
            )
        )
        session.flush()
    _record_identifiers(session, keyring, subject_id, document["subject"])

    created = assessment is None
    if assessment is None:
        assessment = Assessment(
            id=str(uuid.uuid4()),
            subject_id=subject_id,
            publisher_agency_id=publisher.id,
            local_reference_hmac=local_ref,
            current_version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(assessment)
    else:
        if identity.resolve(session, assessment.subject_id) != subject_id:
            raise StoreError(
                [Issue("invariant", "this record was published before for a different person", "local_reference")]
            )
        # Identical content (same keyed digest of the same canonical bytes) is not a new version: a case
        # system that re-sends what it sent before must not make recipients think the record was amended.
        current = session.get(AssessmentVersion, (assessment.id, assessment.current_version))
        if (
            current is not None
            and current.ciphertext is not None
            and hmac.compare_digest(current.content_sha256, keyring.content_mac(canonical_json(document)))
        ):
            return Published(assessment.id, assessment.current_version, subject_id, created=False, changed=False)
        assessment.current_version += 1
        assessment.updated_at = now
    session.flush()
    # An assessment stays under the key of the subject it was first published for, also after a merge, so
    # an unmerge finds every record where it was.
    owner = session.get(Subject, assessment.subject_id)
    assert owner is not None
    data_key = _subject_data_key(keyring, owner)

    plaintext = canonical_json(document)
    session.add(
        AssessmentVersion(
            assessment_id=assessment.id,
            version=assessment.current_version,
            ciphertext=encrypt(data_key, plaintext, content_aad(assessment.id, assessment.current_version)),
            content_sha256=keyring.content_mac(plaintext),
            created_at=now,
        )
    )
    demographics.record(
        session,
        keyring,
        subject_id=assessment.subject_id,
        assessment_id=assessment.id,
        subject=document["subject"],
        now=now,
    )
    # This version's links replace the assessment's earlier ones (a corrected link withdraws access).
    session.execute(delete(CaseLink).where(CaseLink.assessment_id == assessment.id))
    recorded: set[tuple[int, str]] = set()
    for link, agency in zip(document["case_links"], agencies, strict=True):
        add_case_link(
            session,
            keyring,
            assessment_id=assessment.id,
            subject_id=assessment.subject_id,
            agency=agency,
            declared_by_agency_id=assessment.publisher_agency_id,
            case_reference=link["case_reference"],
            now=now,
            data_key=data_key,
            recorded=recorded,
        )
    session.flush()
    return Published(assessment.id, assessment.current_version, subject_id, created)


def unknown_agency_problems(session: Session, links: Any) -> list[Issue]:
    """Case links naming agencies the gateway does not know; tolerant of a document that failed the schema,
    so a 422 can list these beside the schema's own problems."""
    if not isinstance(links, list):
        return []
    codes = {i: link.get("agency_code") for i, link in enumerate(links) if isinstance(link, Mapping)}
    wanted = [c for c in codes.values() if isinstance(c, str)]
    known = set(session.execute(select(Agency.code).where(Agency.code.in_(wanted))).scalars())
    return [
        Issue("invariant", "no agency with this code is registered with the gateway", f"case_links[{i}].agency_code")
        for i, code in codes.items()
        if isinstance(code, str) and code not in known
    ]


def _agencies_for_links(session: Session, links: Sequence[Mapping[str, str]]) -> list[Agency]:
    problems = unknown_agency_problems(session, links)
    if problems:
        raise StoreError(problems)
    codes = [link["agency_code"] for link in links]
    known = {a.code: a for a in session.execute(select(Agency).where(Agency.code.in_(codes))).scalars()}
    return [known[code] for code in codes]


def _record_identifiers(session: Session, keyring: KeyRing, subject_id: str, subject: Mapping[str, Any]) -> None:
    for system, key in _MATCH_ORDER:
        value = subject.get(key)
        if value and find_subject_id(session, keyring, system, value) is None:
            session.add(
                SubjectIdentifier(
                    subject_id=subject_id, system=system, value_hmac=identifier_key(keyring, system, value)
                )
            )


def subject_of_assessment(session: Session, assessment_id: str) -> str | None:
    """The person (after merges) an assessment is about."""
    found = session.execute(select(Assessment.subject_id).where(Assessment.id == assessment_id)).scalar_one_or_none()
    return None if found is None else identity.resolve(session, found)


def has_case_link(session: Session, subject_id: str, agency_id: int) -> bool:
    """Whether any L&D service declared a case for the agency with this person (merged records included).

    Not an access check: a link opens only its declarer's assessments (``provenance.opened_assessments``).
    """
    members = identity.group(session, subject_id)
    return (
        session.execute(
            select(CaseLink.id).where(CaseLink.subject_id.in_(members), CaseLink.agency_id == agency_id)
        ).first()
        is not None
    )


def assessment_ids_for_subject(session: Session, subject_id: str) -> list[str]:
    """This person's assessments (any record merged into them included), oldest first."""
    members = identity.group(session, subject_id)
    return list(
        session.execute(
            select(Assessment.id)
            .where(Assessment.subject_id.in_(members))
            .order_by(Assessment.created_at, Assessment.id)
        ).scalars()
    )


def load_current(session: Session, keyring: KeyRing, assessment_id: str) -> StoredAssessment | None:
    """The latest version, decrypted; ``None`` when absent or erased."""
    assessment = session.get(Assessment, assessment_id)
    if assessment is None:
        return None
    subject = session.get(Subject, assessment.subject_id)
    version = session.get(AssessmentVersion, (assessment.id, assessment.current_version))
    if subject is None or subject.wrapped_key is None or version is None or version.ciphertext is None:
        return None
    data_key = _subject_data_key(keyring, subject)
    plaintext = decrypt(data_key, version.ciphertext, content_aad(assessment.id, version.version))
    return StoredAssessment(
        assessment_id=assessment.id,
        version=version.version,
        subject_id=assessment.subject_id,
        publisher_agency_id=assessment.publisher_agency_id,
        content=json.loads(plaintext),
    )


@dataclass(frozen=True)
class VersionInfo:
    """One version of an assessment, as IG staff see its history: no content, only when and which."""

    version: int
    created_at: datetime
    content_digest: str
    erased: bool


def version_history(session: Session, assessment_id: str) -> list[VersionInfo]:
    """Every version of an assessment, oldest first (empty when there is no such assessment).

    The digest is keyed (see ``KeyRing.content_mac``): equal digests mean equal content.
    """
    rows = session.execute(
        select(AssessmentVersion)
        .where(AssessmentVersion.assessment_id == assessment_id)
        .order_by(AssessmentVersion.version)
    ).scalars()
    return [VersionInfo(r.version, r.created_at, r.content_sha256, r.ciphertext is None) for r in rows]


def load_version(session: Session, keyring: KeyRing, assessment_id: str, version: int) -> dict[str, Any] | None:
    """One version's content, decrypted; ``None`` when absent or erased."""
    assessment = session.get(Assessment, assessment_id)
    row = session.get(AssessmentVersion, (assessment_id, version))
    if assessment is None or row is None or row.ciphertext is None:
        return None
    subject = session.get(Subject, assessment.subject_id)
    if subject is None or subject.wrapped_key is None:
        return None
    plaintext = decrypt(_subject_data_key(keyring, subject), row.ciphertext, content_aad(assessment_id, version))
    return json.loads(plaintext)  # type: ignore[no-any-return]


def shred_subject(session: Session, subject_id: str, now: datetime) -> None:
    """Crypto-shred one subject: destroy the wrapped data key (so everything ever encrypted under it is
    unreadable, whichever table holds it), delete the ciphertext of their assessment versions and case
    references, and remove their identifier hashes and case links, so nothing can find them again.

    Assessment rows stay (ids, versions, keyed digests, times), so the disclosure log's references still
    resolve to "erased"; the log itself is not touched and still verifies. Runs in the caller's transaction.
    """
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise LookupError("no such subject")
    subject.wrapped_key = None
    subject.erased_at = now
    assessment_ids = select(Assessment.id).where(Assessment.subject_id == subject_id)
    session.execute(
        update(AssessmentVersion).where(AssessmentVersion.assessment_id.in_(assessment_ids)).values(ciphertext=None)
    )
    session.execute(delete(CaseLink).where(CaseLink.subject_id == subject_id))
    session.execute(delete(SubjectIdentifier).where(SubjectIdentifier.subject_id == subject_id))
    session.execute(delete(SubjectDemographic).where(SubjectDemographic.subject_id == subject_id))
    session.flush()


def subject_contents(session: Session, keyring: KeyRing, subject_id: str) -> list[dict[str, Any]]:
    """Every readable version of every assessment of this one subject record (not its merge group)."""
    subject = session.get(Subject, subject_id)
    if subject is None or subject.wrapped_key is None:
        return []
    data_key = _subject_data_key(keyring, subject)
    rows = session.execute(
        select(AssessmentVersion)
        .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
        .where(Assessment.subject_id == subject_id, AssessmentVersion.ciphertext.is_not(None))
    ).scalars()
    return [
        json.loads(decrypt(data_key, row.ciphertext, content_aad(row.assessment_id, row.version)))  # type: ignore[arg-type]
        for row in rows
    ]
