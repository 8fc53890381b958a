"""Publishing a canonical assessment: validate, store, log, remember the idempotency key: one transaction.

``POST /assessments``, ``POST /fhir/Bundle`` and ``ld-gateway import`` all come through
:func:`publish_document`, so a document is judged and recorded the same way whichever door it used.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import demographics, idempotency, store
from gateway.assessments.validation import validate_assessment
from gateway.audit import log
from gateway.audit.entry import NewEntry, caller_fields
from gateway.audit.events import AuditEvent, Outcome
from gateway.db import unit_of_work
from gateway.db.agencies import AgencyDirectory
from gateway.fhir.outcome import operation_outcome
from gateway.ingest.text_screen import TextScreen
from gateway.issue import Issue
from gateway.keys import KeyRing


@dataclass(frozen=True)
class Publisher:
    """Who publishes: an API client (its token's claims) or an operator importing for an L&D service."""

    agency_code: str
    client_id: str | None
    agency_type: str | None
    purpose: str | None
    event: AuditEvent = AuditEvent.PUBLISH_ACCEPTED
    network: str | None = None  # the address an API publish came from (the log records it)


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    request_hmac: str


@dataclass(frozen=True)
class Receipt:
    """A publish's answer: 201 (a new assessment or version) or 200 (same content, nothing new).

    ``warnings`` did not stop the publish (diagnostic terms in text bound for police or the CPS); the
    body carries them as an OperationOutcome under ``outcome``, so a replay answers them again.
    """

    status: int
    body: dict[str, Any]
    replayed: bool = False
    warnings: tuple[Issue, ...] = ()

    @property
    def assessment_id(self) -> str:
        return str(self.body["id"])


class Rejected(Exception):
    """The document cannot be published; ``problems`` lists every reason (nothing was written)."""

    def __init__(self, problems: Sequence[Issue], status: int = 422) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)
        self.status = status


def idempotent_request(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    agency_code: str,
    header: str | None,
    *,
    route: str,
    body: bytes,
) -> tuple[IdempotentRequest | None, Receipt | None]:
    """The ``Idempotency-Key`` of a publish (None without the header) as :func:`publish_document` will
    remember it, and the stored answer when this same request was answered before (then nothing is
    published again). :class:`Rejected`: 400 for a malformed key, 422 for a key that named another request
    (``gateway.assessments.idempotency``: the request is the route and the exact body)."""
    if header is None:
        return None, None
    try:
        key = idempotency.parse_key(header)
    except idempotency.InvalidKey as exc:
        raise Rejected([Issue("value", str(exc), idempotency.HEADER)], status=400) from None
    request = IdempotentRequest(key, idempotency.request_digest(keyring, route, body))
    return request, replay(sessions, keyring, agency_code, request)


def replay(
    sessions: sessionmaker[Session], keyring: KeyRing, agency_code: str, request: IdempotentRequest
) -> Receipt | None:
    """The stored answer for this key and request; :class:`Rejected` (422) when the key named another."""
    try:
        found = unit_of_work.read(
            sessions, lambda tx: idempotency.lookup(tx, keyring, agency_code, request.key, request.request_hmac)
        )
    except idempotency.KeyReused:
        message = f"this {idempotency.HEADER} was used before with a different request; use a new key"
        raise Rejected([Issue("business-rule", message, idempotency.HEADER)]) from None
    return None if found is None else Receipt(found.status_code, found.body, replayed=True)


def check(
    sessions: sessionmaker[Session], schema: dict[str, Any], document: Any
) -> tuple[dict[str, Any] | None, list[Issue]]:
    """Validation without storing: the schema's, the identifiers' and unknown agencies' problems together."""
    normalised, issues = validate_assessment(document, schema)
    links = document.get("case_links") if isinstance(document, Mapping) else None
    issues += unit_of_work.read(sessions, lambda tx: store.unknown_agency_problems(tx, links))
    if issues or normalised is None:
        return None, issues
    return normalised, []


def publish_document(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    schema: dict[str, Any],
    publisher: Publisher,
    document: Any,
    *,
    now: datetime,
    idempotent: IdempotentRequest | None = None,
    on_published: Callable[[Session, str, int, dict[str, Any]], None] | None = None,
    screen: TextScreen | None = None,
    agencies: AgencyDirectory | None = None,
) -> Receipt:
    """Validate and store; the publish, its log entry, ``on_published`` (the requests concern's
    notifications of a new version) and the idempotency record commit together.

    With a ``screen``, text bound for police or the CPS is checked for diagnostic terms: each finding is
    a warning in the answer (the publish still succeeds) and their number is in the log entry."""
    normalised, problems = check(sessions, schema, document)
    if normalised is None:
        raise Rejected(problems)
    warnings = tuple(screen.warnings(normalised)) if screen is not None else ()

    def work(session: Session) -> Receipt:
        agency = (agencies or AgencyDirectory()).by_code(session, publisher.agency_code)
        if agency is None or agency.type != "ld-service":
            raise Rejected([Issue("forbidden", "only a registered L&D service may publish")])
        published = store.publish(session, keyring, publisher=agency, document=normalised, now=now)
        body: dict[str, Any] = {
            "id": published.assessment_id,
            "version": published.version,
            "created": published.created,
            "changed": published.changed,
        }
        if warnings:
            body["outcome"] = operation_outcome(warnings)
        receipt = Receipt(201 if published.changed else 200, body, warnings=warnings)
        log.append(
            session,
            NewEntry(
                event=publisher.event,
                outcome=Outcome.ACCEPTED,
                created_at=now,
                **caller_fields(publisher),
                subject_key=store.subject_key(keyring, published.subject_id),
                assessment_id=published.assessment_id,
                assessment_version=published.version,
                reason=None if published.changed else "unchanged",
                diagnostic_term_warnings=None if screen is None else len(warnings),
            ),
        )
        if on_published is not None and published.changed:
            on_published(session, published.assessment_id, published.version, normalised)
        if idempotent is not None:
            idempotency.remember(
                session,
                keyring,
                agency_code=publisher.agency_code,
                key=idempotent.key,
                request_hmac=idempotent.request_hmac,
                status_code=receipt.status,
                body=receipt.body,
                now=now,
            )
        return receipt

    def log_conflict(session: Session, conflict: store.IdentityConflict) -> store.IdentityConflict:
        # Nothing of the publish was kept (its transaction rolled back); the refusal is logged on its own,
        # under the person it would have joined, so IG and an administrator can find it.
        for subject_id in conflict.subject_ids:
            log.append(
                session,
                NewEntry(
                    event=AuditEvent.PUBLISH_DENIED,
                    outcome=Outcome.DENIED,
                    created_at=now,
                    **caller_fields(publisher),
                    subject_key=store.subject_key(keyring, subject_id),
                    reason="identity-conflict",
                ),
            )
        return conflict

    try:
        done = unit_of_work.run_or_refuse(sessions, work, store.IdentityConflict, log_conflict)
    except store.StoreError as exc:
        raise Rejected(exc.problems) from None
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it was answered.
        if idempotent is None:
            raise
        replayed = replay(sessions, keyring, publisher.agency_code, idempotent)
        if replayed is None:
            raise
        return replayed
    if isinstance(done, store.IdentityConflict):
        raise Rejected(conflict_problems(done), status=409)
    return done


_IDENTIFIER_EXPRESSIONS = {store.NHS_NUMBER: "subject.nhs_number", store.PNC_ID: "subject.pnc_id"}
_IDENTIFIER_TITLES = {store.NHS_NUMBER: "NHS number", store.PNC_ID: "PNC ID"}
_RESOLVE = (
    "Nothing was stored. If the identifier is mistyped, correct the record and publish again; if it is the "
    "same person, an L&D administrator resolves the conflict (ld-gateway subject resolve; docs/import.md)."
)


def conflict_problems(conflict: store.IdentityConflict) -> list[Issue]:
    """One ``conflict`` issue per contradicting element, named by where it is in the document; stored
    values are never named (they are another person's, or another record's, data)."""
    if not conflict.elements:
        return [
            Issue(
                "conflict",
                "the NHS number and PNC ID belong to different people on record. " + _RESOLVE,
                _IDENTIFIER_EXPRESSIONS[system],
            )
            for system in conflict.identifiers
        ]
    matched = " and ".join(_IDENTIFIER_TITLES[s] for s in conflict.identifiers)
    return [
        Issue(
            "conflict",
            f"the {matched} is on record for a person whose {demographics.TITLES[element]} is different. {_RESOLVE}",
            demographics.EXPRESSIONS[element],
        )
        for element in conflict.elements
    ]
