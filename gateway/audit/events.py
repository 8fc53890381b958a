"""Names of the events the disclosure log records: ``source:subject:action``. Stored values only grow."""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    BUNDLE_RELEASED = "disclosure:bundle:released"
    BUNDLE_DENIED = "disclosure:bundle:denied"
    TOKEN_DENIED = "auth:token:denied"
    PUBLISH_DENIED = "ingest:assessment:denied"
    AUDIT_DENIED = "audit:query:denied"
    # issue 6: requests (FHIR Task) and their notifications
    TASK_CREATED = "request:task:created"
    TASK_ACCEPTED = "request:task:accepted"
    TASK_REJECTED = "request:task:rejected"
    TASK_COMPLETED = "request:task:completed"
    TASK_DENIED = "request:task:denied"
    EVENTS_DENIED = "request:events:denied"
    PUBLISH_ACCEPTED = "ingest:assessment:published"
    PUBLISH_IMPORTED = "ingest:assessment:imported"
    SUBJECT_MERGED = "identity:subject:merged"
    SUBJECT_UNMERGED = "identity:subject:unmerged"
    SUBJECT_ERASED = "retention:subject:erased"


class Outcome(StrEnum):
    RELEASED = "released"
    DENIED = "denied"
    RECORDED = "recorded"  # a workflow action (a request made, accepted, ...): nothing was disclosed

    ACCEPTED = "accepted"
    ERASED = "erased"
