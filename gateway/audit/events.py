"""Names of the events the disclosure log records, ``source:subject:action``, and their outcomes.

Every event the gateway logs is named here (the typed append takes nothing else). Stored values only
grow: a name, once written to a log, keeps its spelling for as long as that log must verify.
"""

from __future__ import annotations

from enum import StrEnum


class AuditEvent(StrEnum):
    BUNDLE_RELEASED = "disclosure:bundle:released"
    BUNDLE_DENIED = "disclosure:bundle:denied"
    TOKEN_DENIED = "auth:token:denied"
    PUBLISH_DENIED = "ingest:assessment:denied"
    PUBLISH_ACCEPTED = "ingest:assessment:published"
    PUBLISH_IMPORTED = "ingest:assessment:imported"
    OVERRIDE_RECORDED = "ingest:override:recorded"
    OVERRIDE_DENIED = "ingest:override:denied"
    AUDIT_DENIED = "audit:query:denied"
    # A clinician at the L&D service signed off the serious-harm check of a subject access report.
    SUBJECT_REPORT_SIGNED_OFF = "audit:report:signed-off"
    # Court requests (FHIR Task) and their notifications.
    TASK_CREATED = "request:task:created"
    TASK_ACCEPTED = "request:task:accepted"
    TASK_REJECTED = "request:task:rejected"
    TASK_COMPLETED = "request:task:completed"
    TASK_DENIED = "request:task:denied"
    EVENTS_DENIED = "request:events:denied"
    # Staff actions on the IG pages: who is the opaque staff account id, never a name.
    IG_SIGNIN = "ig:staff:signin"
    IG_SIGNIN_FAILED = "ig:staff:signin-failed"
    IG_LOCKED = "ig:staff:locked"
    IG_SIGNOUT = "ig:staff:signout"
    IG_REFUSED = "ig:staff:refused"
    IG_SEARCH = "ig:disclosure:search"
    IG_VIEW = "ig:disclosure:view"
    IG_SUBJECT_REPORT = "ig:subject:report"
    IG_VERIFY = "ig:log:verify"
    IG_CLIENT_REVOKE = "ig:client:revoke"
    IG_OVERRIDE_REVIEW = "ig:override:reviewed"
    # Operators' actions from the command line.
    POLICY_ACTIVATED = "admin:policy:activated"
    # Identity and retention.
    SUBJECT_MERGED = "identity:subject:merged"
    SUBJECT_UNMERGED = "identity:subject:unmerged"
    # An identity conflict resolved by an L&D administrator: a family name or date of birth accepted as
    # the person's, or an identifier taken off a record it was wrongly on.
    SUBJECT_IDENTITY_ACCEPTED = "identity:subject:identity-accepted"
    SUBJECT_IDENTIFIER_DETACHED = "identity:subject:identifier-detached"
    SUBJECT_ERASED = "retention:subject:erased"


#: The events that are disclosures or refusals of one (what IG counts, reports and charts).
DISCLOSURE_EVENTS: tuple[AuditEvent, ...] = (AuditEvent.BUNDLE_RELEASED, AuditEvent.BUNDLE_DENIED)


class Outcome(StrEnum):
    RELEASED = "released"
    DENIED = "denied"
    RECORDED = "recorded"  # a workflow action (a request made, accepted, ...): nothing was disclosed
    DONE = "done"  # a staff action that was carried out
    ACCEPTED = "accepted"
    ACTIVATED = "activated"  # a policy revision put in force
    ERASED = "erased"
