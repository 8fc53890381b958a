"""SQLAlchemy 2 models.

No column holds personal data in the clear: subject identifiers are keyed hashes (HMAC) for lookup,
assessment content and case references are AES-256-GCM ciphertext under the subject's data key.
Stored formats only grow: add columns, never repurpose them.

Why one module of over 400 lines: it is the schema, read whole when a migration is written or reviewed
(Alembic compares the database with this one metadata); each table is a short declaration, and the
services that own each table are the modules of their concern.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The NHS organisation's ODS code (health and L&D services only); not unique: one trust may run
    # several services.
    ods_code: Mapped[str | None] = mapped_column(String(5), nullable=True)


class Client(Base):
    """An agency's OAuth client: it authenticates with a signed JWT (RFC 7523 private_key_jwt)."""

    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    purposes: Mapped[list[str]] = mapped_column(JSON)
    jwks: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    jwks_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # issue 3: the assertion algorithms this client may use (None: the default allow-list), and
    # whether its tokens must be DPoP-bound (RFC 9449). Rows older than the column are not required.
    assertion_algorithms: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    dpop_required: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())


class Subject(Base):
    """A person. Holds only their wrapped data key; erasing it crypto-shreds their content."""

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    master_key_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SubjectIdentifier(Base):
    """Lookup of a subject by a keyed hash of one identifier (system: nhs-number, pnc-id, ...)."""

    __tablename__ = "subject_identifiers"
    __table_args__ = (UniqueConstraint("system", "value_hmac", name="uq_subject_identifier"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    system: Mapped[str] = mapped_column(String(32))
    value_hmac: Mapped[str] = mapped_column(String(64))


class Assessment(Base):
    __tablename__ = "assessments"
    __table_args__ = (UniqueConstraint("publisher_agency_id", "local_reference_hmac", name="uq_assessment_local_ref"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    publisher_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    local_reference_hmac: Mapped[str] = mapped_column(String(64))
    current_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AssessmentVersion(Base):
    """One immutable version: the canonical JSON, encrypted (nonce || ciphertext || tag).

    ``content_sha256`` is an HMAC-SHA256 under the identifier key (the column name says the digest's size),
    never a plain hash of the plaintext.
    """

    __tablename__ = "assessment_versions"

    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CaseLink(Base):
    """A legitimate relationship: this agency has a case about this subject, as one L&D service declared.

    Links belong to the assessment that recorded them, and a new version replaces its assessment's
    links: an L&D service that corrects a wrong link withdraws that agency's access by republishing.
    ``declared_by_agency_id`` is that assessment's publisher, and a link opens only that service's
    assessments of the person (DOMAIN.md "Provenance"): two services' records of one person stay two.
    """

    __tablename__ = "case_links"
    __table_args__ = (
        UniqueConstraint("assessment_id", "agency_id", "case_reference_hmac", name="uq_case_link"),
        Index("ix_case_links_relationship", "agency_id", "subject_id", "declared_by_agency_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), index=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    declared_by_agency_id: Mapped[int] = mapped_column(
        ForeignKey("agencies.id", name="fk_case_links_declared_by_agency_id")
    )
    case_reference_hmac: Mapped[str] = mapped_column(String(64))
    case_reference_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DisclosureLogEntry(Base):
    """One row of the append-only disclosure log; ``entry`` is the canonical leaf content.

    ``seq`` is dense from 0 and assigned under the log lock; ``leaf_hash`` is RFC 9162's
    SHA-256(0x00 || canonical entry bytes), and the entry carries the previous leaf hash, so
    any edit, deletion or reordering breaks verification.
    """

    __tablename__ = "disclosure_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    disclosure_id: Mapped[str] = mapped_column(String(36), unique=True)
    event: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    client_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    agency_code: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    purpose: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subject_key: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    entry: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    leaf_hash: Mapped[str] = mapped_column(String(64))


class LogHead(Base):
    """A single row (id=1) locked for each append, so concurrent writers get one linear order."""

    __tablename__ = "log_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    # issue 5: the Merkle tree's compact range (hex hashes of the complete subtrees on its right
    # border, largest first, comma-separated); NULL only for the empty tree.
    compact_range: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- issue 4: lawful overrides ---


class LawfulOverride(Base):
    """A lawful override without consent, recorded by an L&D practitioner against one assessment.

    Read by the disclosure path (the policy releases the basis's minimised fields to ``recipients`` until
    ``expires_at``) and by IG staff reviewing overrides. ``reason_ciphertext`` is the practitioner's
    reason, AES-256-GCM under the subject's data key (it may describe the person), associated data
    ``override:{id}``; everything else is in the clear. Rows are never updated: an override ends at its
    expiry.
    """

    __tablename__ = "lawful_overrides"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    assessment_id: Mapped[str] = mapped_column(ForeignKey("assessments.id"), index=True)
    basis: Mapped[str] = mapped_column(String(48))
    recipients: Mapped[list[str]] = mapped_column(JSON)
    reason_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # What the disclosure log carries of the author and the reason: HMAC-SHA256 under the subject's data
    # key (gateway.overrides.commitment), kept here so the hot path never decrypts a reason. NULL when
    # recorded before commitments were kept and the person has since been erased.
    recorded_by_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The practitioner: staff data, kept in clear through the person's erasure so IG can still hold them
    # to it (docs/decisions.md, "An override's author").
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    client_id: Mapped[str] = mapped_column(String(64))
    agency_code: Mapped[str] = mapped_column(String(32))


# --- issue 5: the disclosure log's Merkle tree and signed checkpoints ---


class LogTreeNode(Base):
    """The hash of one complete interior subtree of the log's RFC 9162 Merkle tree (level >= 1).

    It covers leaves ``[idx * 2**level, (idx + 1) * 2**level)`` and never changes once written; level 0
    is ``disclosure_log.leaf_hash``. Proofs read O(log n) of these rows.
    """

    __tablename__ = "log_tree_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


class LogCheckpoint(Base):
    """A signed checkpoint (C2SP signed note) of the log at ``tree_size`` entries."""

    __tablename__ = "log_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    note: Mapped[str] = mapped_column(Text)


# --- issue 3: agency identity (replay store, revoked access tokens) ---


class SeenJti(Base):
    """A one-time identifier (a client assertion's or a DPoP proof's ``jti``) claimed until it expires.

    ``jti_hash`` is SHA-256 over the namespace (client or key) and the ``jti``. It is the primary key,
    so of two processes claiming the same one at once the database lets exactly one insert.
    """

    __tablename__ = "seen_jtis"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)


class RevokedToken(Base):
    """An access token revoked before its ``exp`` (RFC 7009), kept until that ``exp``."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)
    revoked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- issue 4: stored policy revisions ---


class PolicyRevision(Base):
    """A stored policy revision (every module, data.json, the catalogue ids) and when it was activated.

    ``revision`` is the hash the files compute to (gateway/policy/revision.py). The most recently
    activated row is the policy in force; each activation is also a disclosure-log entry.
    """

    __tablename__ = "policy_revisions"

    revision: Mapped[str] = mapped_column(String(80), primary_key=True)
    files: Mapped[dict[str, str]] = mapped_column(JSON)
    catalogue_ids: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    activated_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


# --- issue 6: real-time requests (FHIR Task) ---


class RequestTask(Base):
    """A request for assessment information (FHIR Task), from a requesting agency to an L&D service.

    Queue columns (status, parties, deadline, output) are in the clear: they say nothing about a person.
    The Task resource itself (who it is about, the case reference, notes, reasons) is AES-256-GCM
    ciphertext under the subject's data key, so erasing the subject erases their requests too.
    """

    __tablename__ = "request_tasks"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    requester_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    owner_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    output_assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"), nullable=True)
    case_reference_hmac: Mapped[str] = mapped_column(String(64))
    resource_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookSubscription(Base):
    """An agency's webhook endpoint; its signing secret is stored wrapped by the master key."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    wrapped_secret: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookDelivery(Base):
    """One notification for one endpoint (an outbox row); ``body`` holds ids, status and links only."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("webhook_subscriptions.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(48))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), index=True)  # pending, delivered, failed, cancelled
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebhookAttempt(Base):
    """The delivery log: every attempt, its HTTP status or the error's type."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(String(64), nullable=True)


# --- issue 7: IG staff accounts, their sessions, and integrity verification runs ---


class StaffAccount(Base):
    """An information-governance staff member who signs in to the IG pages (``gateway.ig``).

    ``id`` is opaque and is what the disclosure log records for a staff action (never the username).
    ``password_hash`` is an argon2id PHC string, or null for an account that signs in only through OIDC
    (``oidc_subject`` = ``issuer|sub``). Repeated failures set ``locked_until``.
    """

    __tablename__ = "ig_staff"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(500), nullable=True, unique=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class StaffSession(Base):
    """A server-side IG session. The cookie holds a random token; only its SHA-256 is stored here.

    A session without ``staff_id`` is a signed-out one: it carries the CSRF token of the sign-in form
    and the OIDC state (``data``). Signing in replaces it with a new session (no fixation).
    """

    __tablename__ = "ig_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[str | None] = mapped_column(ForeignKey("ig_staff.id"), nullable=True, index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class VerificationRun(Base):
    """One verification of the whole disclosure log started from the IG integrity page."""

    __tablename__ = "ig_verification_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_by: Mapped[str] = mapped_column(ForeignKey("ig_staff.id"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # running | intact | failed | error
    total_entries: Mapped[int] = mapped_column(BigInteger)
    entries_checked: Mapped[int] = mapped_column(BigInteger, default=0)
    head_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)
    checkpoints_checked: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class LogVerification(Base):
    """One verification of the whole disclosure log, whoever ran it: ``ld-gateway audit verify`` (by hand
    or on a schedule) or the IG integrity page. Owned by gateway/audit/verifications.py."""

    __tablename__ = "log_verifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # cli | schedule | ig-page
    run_by: Mapped[str | None] = mapped_column(String(200), nullable=True)  # staff username, page runs only
    verified_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(String(16))  # intact | failed | error
    entries: Mapped[int] = mapped_column(BigInteger)
    from_size: Mapped[int] = mapped_column(BigInteger)  # > 0: entries before it were trusted to a checkpoint
    checkpoints: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure: Mapped[str | None] = mapped_column(Text, nullable=True)


class OverrideReview(Base):
    """An IG administrator's review of one lawful override (issue 4's ``lawful_overrides``): approved, or
    a concern raised. The note may describe the person: AES-256-GCM under the subject's data key,
    associated data ``override-review:{id}``."""

    __tablename__ = "ig_override_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    override_id: Mapped[str] = mapped_column(ForeignKey("lawful_overrides.id"), unique=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("ig_staff.id"))
    decision: Mapped[str] = mapped_column(String(16))  # approved | concern
    note_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    reviewed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# --- issue 9: ingestion (idempotency keys) ---


class IdempotencyRecord(Base):
    """A publish that succeeded under an ``Idempotency-Key``: the same key and request replay its response.

    The key and the request are stored only as keyed hashes (a key chosen by a case system might carry
    anything); the response is the publish receipt (ids and version), which holds no personal data.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("agency_code", "key_hmac", name="uq_idempotency_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    key_hmac: Mapped[str] = mapped_column(String(64))
    request_hmac: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SubjectMerge(Base):
    """An L&D administrator's decision that two subject records are one person (``gateway/assessments/identity.py``).

    ``subject_id`` is part of ``into_subject_id`` while ``unmerged_at`` is null; nothing else is moved, so
    ending the row (unmerge) restores both records exactly. Rows are kept as the history of decisions;
    ``reference`` is a ticket or case-note reference, never personal data.
    """

    __tablename__ = "subject_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    into_subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    merged_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    merged_by: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    unmerged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    unmerged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


# --- identity: what each record says of a person's family name and date of birth ---


class SubjectDemographic(Base):
    """A family name or date of birth on record for a subject, as a keyed hash (never the value).

    Rows with ``assessment_id`` are what that assessment's current version says (replaced with each
    version, like its case links); rows without one were accepted by an L&D administrator resolving an
    identity conflict (``accepted_by``, ``reference``). An identifier joins a publish to a person only
    when the publish agrees with these (``gateway/assessments/demographics.py``).
    """

    __tablename__ = "subject_demographics"
    __table_args__ = (
        UniqueConstraint("subject_id", "assessment_id", "element", "value_hmac", name="uq_subject_demographic"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    assessment_id: Mapped[str | None] = mapped_column(ForeignKey("assessments.id"), nullable=True, index=True)
    element: Mapped[str] = mapped_column(String(16))  # family-name | birth-date
    value_hmac: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)


# --- subject access: the clinician's serious-harm check before a report is released ---


class SubjectReportSignOff(Base):
    """A clinician's sign-off of a subject access report (``gateway/audit/signoffs.py``): who checked it
    for serious harm, what they decided, when, and how far into the log the report they checked went.

    The person is named by the log's keyed hash (``subject_key``), as every log entry names them;
    ``clinician`` is the clinician's name or professional registration as the L&D service records it
    (staff, not the person the report is about). Rows are never changed: a new check is a new row.
    """

    __tablename__ = "subject_report_signoffs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_key: Mapped[str] = mapped_column(String(64), index=True)
    agency_code: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    clinician: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(32))  # release | release-with-redactions | withhold
    through_seq: Mapped[int] = mapped_column(BigInteger)
    disclosure_id: Mapped[str] = mapped_column(String(36))
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
