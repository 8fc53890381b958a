"""Names of the events the disclosure log records: ``source:subject:action``. Stored values only grow."""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    BUNDLE_RELEASED = "disclosure:bundle:released"
    BUNDLE_DENIED = "disclosure:bundle:denied"
    TOKEN_DENIED = "auth:token:denied"
    PUBLISH_DENIED = "ingest:assessment:denied"
    AUDIT_DENIED = "audit:query:denied"
    PUBLISH_ACCEPTED = "ingest:assessment:published"
    PUBLISH_IMPORTED = "ingest:assessment:imported"
    SUBJECT_MERGED = "identity:subject:merged"
    SUBJECT_UNMERGED = "identity:subject:unmerged"
    SUBJECT_ERASED = "retention:subject:erased"


class Outcome(StrEnum):
    RELEASED = "released"
    DENIED = "denied"
    ACCEPTED = "accepted"
    ERASED = "erased"
