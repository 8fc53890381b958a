"""The disclosure hot path, one straight line per request (see ../shared/DESIGN.md).

    authenticate (route) → relationship → load + decrypt → decide → project → render → log → respond

Every request ends in exactly one of two ways: a committed transaction holding the log entries for
everything in the response body, or no body at all. Refusals are logged too, with the reason.

One module on purpose (past the ~400 lines the rest keep to): the hot path reads as one line of calls,
top to bottom, and every step of it that needs no session lives beside it (facts.py, projection.py,
lawful_basis.py), pure and tested alone.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import provenance, store
from gateway.assessments.catalogue import Catalogue
from gateway.audit import log
from gateway.audit.entry import Appended, NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.receipts import ReceiptSigner
from gateway.audit.writer import LogWriter
from gateway.auth.deferred_replay import DeferredReplay, ProofReplayed
from gateway.auth.rfc9068 import AccessContext
from gateway.db import unit_of_work
from gateway.db.agencies import AgencyDirectory
from gateway.db.engine import make_read_session_factory
from gateway.disclosure import facts
from gateway.disclosure.lawful_basis import log_items as lawful_basis_items
from gateway.disclosure.projection import Audience, project
from gateway.fhir import DocumentMeta, document_bytes, operation_outcome, searchset_bytes
from gateway.fhir.template import DocumentTemplates
from gateway.issue import Issue
from gateway.keys import KeyRing
from gateway.overrides.store import facts_for_assessment
from gateway.policy.decision import Decision
from gateway.policy.engine import PolicyEngine
from gateway.policy.input import OverrideFacts, build_input

# Keys of what a request's reads plan for its write (kept in the read session's ``info``).
_PENDING = "ldg_pending_log_entries"
_RELEASED = "ldg_released_documents"

NOT_FOUND_TEXT = "No assessment is available to you for this person."


@dataclass(frozen=True)
class Released:
    """One document given to a caller: what its publisher is told ("assessment.accessed")."""

    assessment_id: str
    assessment_version: int
    disclosure_id: str
    agency_code: str
    purpose: str
    publisher_code: str


@dataclass(frozen=True)
class DisclosureResult:
    status: int
    body: bytes
    disclosure_ids: tuple[str, ...]
    policy_revision: str | None = None
    # Signed receipts, one per disclosure id in the same order (empty without a receipt signer).
    receipts: tuple[str, ...] = ()


def _outcome_body(code: str, diagnostics: str, expression: str | None = None) -> bytes:
    return document_bytes(operation_outcome([Issue(code, diagnostics, expression)]))


NOT_FOUND_BODY = _outcome_body("not-found", NOT_FOUND_TEXT)
REFUSED_BODY = _outcome_body(
    "forbidden", "Disclosure refused by the sharing policy; the disclosure id names the decision."
)
FAILURE_BODY = _outcome_body("transient", "The gateway could not complete the request.")


#: How a pull asked, as its log entries record it (the AuditEvent export tells a read from a search).
READ, SEARCH = "read", "search"


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class DisclosureService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        engine: PolicyEngine,
        catalogue: Catalogue,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        receipts: ReceiptSigner | None = None,
        agencies: AgencyDirectory | None = None,
        on_released: Callable[[Session, Sequence[Released]], None] | None = None,
        read_sessions: sessionmaker[Session] | None = None,
        writer: LogWriter | None = None,
    ) -> None:
        self._on_released = on_released
        self._sessions = sessions
        self._read_sessions = read_sessions or make_read_session_factory(sessions.kw["bind"])
        self._writer = writer or LogWriter(sessions)
        self._agencies = agencies or AgencyDirectory()
        self._keyring = keyring
        self._engine = engine
        self._catalogue = catalogue
        self._clock = clock
        self._receipts = receipts
        # Each document is rendered once per content and decision and filled in per disclosure.
        self._documents = DocumentTemplates()

    # -- entry points -------------------------------------------------------------------------------

    def search(
        self,
        ctx: AccessContext,
        system: str,
        value: str,
        self_url: str,
        *,
        limit: int | None = None,
        replay: DeferredReplay | None = None,
    ) -> DisclosureResult:
        """``GET /fhir/Bundle?composition.patient.identifier=SYSTEM|VALUE``: a searchset of document
        bundles (with ``limit``, of the newest ``limit`` assessments only: ``_count``)."""
        lookup_system, value, problem = facts.search_key(system, value)
        if problem or lookup_system is None:
            body = _outcome_body("invalid", problem or "unsupported identifier", "patient.identifier")
            return self.refuse(
                ctx, AuditEvent.BUNDLE_DENIED, "bad-search-parameter", 400, body, replay=replay, interaction=SEARCH
            )

        def work(session: Session) -> DisclosureResult:
            subject_id = store.find_subject_id(session, self._keyring, lookup_system, value)
            if subject_id is None:
                key = store.identifier_key(self._keyring, lookup_system, value)
                return self._deny_in(session, ctx, key, "unknown-subject", 404, NOT_FOUND_BODY, interaction=SEARCH)
            return self._disclose_subject(session, ctx, subject_id, None, self_url, limit, interaction=SEARCH)

        return self._guarded(ctx, work, replay, interaction=SEARCH)

    def read(self, ctx: AccessContext, bundle_id: str, *, replay: DeferredReplay | None = None) -> DisclosureResult:
        """``GET /fhir/Bundle/{id}``: the document for one assessment (its current version)."""

        def work(session: Session) -> DisclosureResult:
            subject_id = store.subject_of_assessment(session, bundle_id)
            if subject_id is None:
                return self._deny_in(session, ctx, None, "unknown-bundle", 404, NOT_FOUND_BODY, interaction=READ)
            return self._disclose_subject(session, ctx, subject_id, bundle_id, None, interaction=READ)

        return self._guarded(ctx, work, replay, interaction=READ)

    def refuse(
        self,
        ctx: AccessContext | None,
        event: AuditEvent,
        reason: str,
        status: int,
        body: bytes,
        *,
        client_id: str | None = None,
        replay: DeferredReplay | None = None,
        interaction: str | None = None,
    ) -> DisclosureResult:
        """Log a refusal that happened before any data was touched (bad token, bad parameter).

        :class:`ProofReplayed` when ``replay``'s claim loses: nothing is logged here, the caller answers
        as for any replayed proof.
        """

        def work(session: Session) -> DisclosureResult:
            if replay is not None:
                replay.claim_in(session)
            denied = self._deny_in(
                session, ctx, None, reason, status, body, event=event, client_id=client_id, interaction=interaction
            )
            return self._write(session, session.info, denied)

        result = unit_of_work.run(self._sessions, work)
        if replay is not None:
            replay.settle()
        return result

    def _guarded(
        self,
        ctx: AccessContext,
        work: Callable[[Session], DisclosureResult],
        replay: DeferredReplay | None = None,
        *,
        interaction: str | None = None,
    ) -> DisclosureResult:
        """Run one request: its reads, then its one short write; an unexpected failure rolls back and is
        logged as a denial.

        The reads (subject, link, assessment, overrides; the decision and the render) run in a read-only
        session, which on SQLite takes no write lock. What they decided to log is kept on that session
        (``_append``) and written afterwards, with the DPoP replay claim (``replay``) and the publishers'
        notices, as one job of the log writer (gateway.audit.writer): it shares a transaction and a
        commit with the other requests waiting at that moment, and the response leaves only after it.
        The failure is named by its type only: exception messages can carry data from the request.
        """
        try:
            with self._read_sessions() as reading:
                result = work(reading)
                planned = dict(reading.info)

            def write(session: Session) -> DisclosureResult | None:
                if replay is not None:
                    try:
                        replay.claim_in(session)  # first, so a lost claim has written nothing
                    except ProofReplayed:
                        return None
                return self._write(session, planned, result)

            written = self._writer.run(write)
            if written is None:
                raise ProofReplayed
            if replay is not None:
                replay.settle()
            return written
        except ProofReplayed:
            raise
        except Exception as exc:
            failure = f"internal-error:{exc.__class__.__name__}"
        return self.refuse(
            ctx, AuditEvent.BUNDLE_DENIED, failure, 503, FAILURE_BODY, replay=replay, interaction=interaction
        )

    # -- the path -----------------------------------------------------------------------------------

    def _disclose_subject(
        self,
        session: Session,
        ctx: AccessContext,
        subject_id: str,
        only: str | None,
        self_url: str | None,
        limit: int | None = None,
        *,
        interaction: str | None = None,
    ) -> DisclosureResult:
        subject_key = store.subject_key(self._keyring, subject_id)
        agency = self._agencies.by_code(session, ctx.agency_code)
        # Legitimate relationship first, before anything is decrypted: without a case link the person
        # does not exist for this caller, and the answer is the one a person nobody knows gets. A link
        # opens only the assessments of the L&D service that declared it, by search and by id alike.
        opened = (
            None
            if agency is None
            else provenance.opened_assessments(session, self._keyring, subject_id, agency.id, only, limit)
        )
        if opened is None:
            return self._deny_in(
                session, ctx, subject_key, "no-case-link", 404, NOT_FOUND_BODY, interaction=interaction
            )
        assessments = opened
        if not assessments:
            return self._deny_in(
                session, ctx, subject_key, "no-assessment", 404, NOT_FOUND_BODY, interaction=interaction
            )

        now = self._clock()
        decided: list[tuple[store.StoredAssessment, Decision, str]] = []
        documents: dict[str, bytes] = {}
        bundle_ids: dict[str, str] = {}  # disclosure id -> the document's Bundle.id (the assessment's id)
        bases: dict[str, tuple[dict[str, Any], ...]] = {}  # disclosure id -> its lawful basis, for the log
        for stored in assessments:
            overrides = self._overrides(session, stored)
            decision, disclosure_id = self._decide(ctx, stored, overrides, now), log.new_disclosure_id()
            if decision.allowed:
                try:
                    documents[disclosure_id] = self._render(session, ctx, stored, decision, disclosure_id, now)
                    bundle_ids[disclosure_id] = stored.assessment_id
                except ValueError:
                    # The renderer refuses content it cannot express faithfully: deny, never half-render.
                    decision = Decision.denied(
                        "render-error", policy_revision=decision.policy_revision, decision_id=decision.decision_id
                    )
            decided.append((stored, decision, disclosure_id))
            bases[disclosure_id] = lawful_basis_items(decision, overrides)
        if documents:
            status = 200
            body = (
                next(iter(documents.values()))
                if self_url is None
                else searchset_bytes(list(documents.values()), self_url, bundle_ids=list(bundle_ids.values()))
            )
        else:
            # One text whatever the reasons: they are in the log, and some would say something about the person.
            status, body = 403, REFUSED_BODY
        # Each released entry hashes its own document (the bytes a receipt will cover); a refused one
        # hashes the response its caller actually got.
        for stored, decision, disclosure_id in decided:
            released = disclosure_id in documents
            self._append(
                session,
                ctx,
                disclosure_id,
                AuditEvent.BUNDLE_RELEASED if released else AuditEvent.BUNDLE_DENIED,
                Outcome.RELEASED if released else Outcome.DENIED,
                now,
                subject_key=subject_key,
                stored=stored,
                decision=decision,
                reason=None if released else decision.deny_reason or "policy-denied",
                body_sha256=_sha256(documents[disclosure_id] if released else body),
                interaction=interaction,
                lawful_basis=bases[disclosure_id] if released else (),
            )
        if documents and self._on_released is not None:
            # The publishers hear who was given their documents, for what: in this transaction, from
            # what this request holds, so the notice is durable exactly when the disclosure is.
            session.info.setdefault(_RELEASED, []).extend(self._released(session, ctx, decided, documents))
        # A 200 names only what it carries: counting refused entries would reveal withheld documents.
        answered = tuple(documents) if documents else tuple(d for _, _, d in decided)
        return DisclosureResult(status, body, answered, decided[0][1].policy_revision)

    def _released(
        self,
        session: Session,
        ctx: AccessContext,
        decided: Sequence[tuple[store.StoredAssessment, Decision, str]],
        documents: Mapping[str, bytes],
    ) -> list[Released]:
        released = []
        for stored, _decision, disclosure_id in decided:
            publisher = self._agencies.by_id(session, stored.publisher_agency_id)
            if disclosure_id in documents and publisher is not None:
                released.append(
                    Released(
                        stored.assessment_id,
                        stored.version,
                        disclosure_id,
                        ctx.agency_code,
                        ctx.purpose,
                        publisher.code,
                    )
                )
        return released

    def _overrides(self, session: Session, stored: store.StoredAssessment) -> list[OverrideFacts]:
        # Read in this request's transaction: an override recorded a moment ago counts, an expired one
        # does not (judged at `now`, the instant this disclosure is logged under).
        if stored.overrides is not None:
            return [OverrideFacts(**facts) for facts in stored.overrides]
        return facts_for_assessment(session, stored.assessment_id)

    def _decide(
        self, ctx: AccessContext, stored: store.StoredAssessment, overrides: Sequence[OverrideFacts], now: datetime
    ) -> Decision:
        content = stored.content
        # Child or adult is judged on the day of the disclosure (DOMAIN.md), as the day is in England: a
        # person assessed at 17 is an adult to every decision maker from their 18th birthday.
        policy_input = build_input(
            agency_type=ctx.agency_type,
            agency_code=ctx.agency_code,
            purpose=ctx.purpose,
            date_of_birth=date.fromisoformat(content["subject"]["date_of_birth"]),
            on=now.astimezone(facts.ENGLAND).date(),
            consent=content.get("consent", {}),
            overrides=overrides,
            now=now,
        )
        try:
            return self._engine.decide(policy_input)
        except Exception:
            # Engines promise never to raise; if one does anyway, that is a denial like any other.
            return Decision.denied(
                "policy-error",
                policy_revision=getattr(self._engine, "revision", "unknown"),
                decision_id=log.new_disclosure_id(),
            )

    def _render(
        self,
        session: Session,
        ctx: AccessContext,
        stored: store.StoredAssessment,
        decision: Decision,
        disclosure_id: str,
        now: datetime,
    ) -> bytes:
        projection = project(stored.content, self._catalogue, decision.released, self._audience(session, ctx, stored))
        publisher = self._agencies.by_id(session, stored.publisher_agency_id)
        assert publisher is not None
        meta = DocumentMeta(
            bundle_id=stored.assessment_id,
            disclosure_id=disclosure_id,
            assessment_id=stored.assessment_id,
            assessment_version=stored.version,
            timestamp=now,
            publisher_name=publisher.name,
            publisher_code=publisher.code,
            publisher_ods_code=publisher.ods_code,
            recipient_agency_code=ctx.agency_code,
            recipient_agency_type=ctx.agency_type,
            purpose=ctx.purpose,
            obligations=decision.obligations,
            withheld_count=len(decision.withheld),
            withheld=tuple((w.field, w.rule) for w in decision.withheld),
            # The same day the policy judged the age on (the day of disclosure, in England).
            subject_minor=facts.is_minor(stored.content, now),
        )
        labels = {fid: self._catalogue.get(fid).labels for fid in projection}
        return self._documents.render(projection, meta, labels)

    def _audience(self, session: Session, ctx: AccessContext, stored: store.StoredAssessment) -> Audience:
        """The recipient, and the type of each agency the assessment's case links name (case references
        are released by their agency's audience: criminal justice references to criminal justice agencies
        only, a health agency's reference to that agency only)."""
        codes = {link.get("agency_code") for link in stored.content.get("case_links") or [] if isinstance(link, dict)}
        types = {}
        for code in sorted(c for c in codes if isinstance(c, str)):
            agency = self._agencies.by_code(session, code)
            if agency is not None:
                types[code] = agency.type
        return Audience(ctx.agency_code, types)

    # -- logging ------------------------------------------------------------------------------------

    def _append(
        self,
        session: Session,
        ctx: AccessContext | None,
        disclosure_id: str,
        event: AuditEvent,
        outcome: Outcome,
        now: datetime,
        *,
        subject_key: str | None,
        stored: store.StoredAssessment | None = None,
        decision: Decision | None = None,
        reason: str | None,
        body_sha256: str | None,
        client_id: str | None = None,
        interaction: str | None = None,
        lawful_basis: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """Plan one log entry: kept on ``session`` until the request's write (:meth:`_write`) appends it."""
        session.info.setdefault(_PENDING, []).append(
            NewEntry(
                disclosure_id=disclosure_id,
                event=event,
                outcome=outcome,
                created_at=now,
                client_id=ctx.client_id if ctx else client_id,
                agency_code=ctx.agency_code if ctx else None,
                agency_type=ctx.agency_type if ctx else None,
                purpose=ctx.purpose if ctx else None,
                subject_key=subject_key,
                assessment_id=stored.assessment_id if stored else None,
                assessment_version=stored.version if stored else None,
                released=tuple(decision.released) if decision and decision.allowed else (),
                withheld=facts.withheld_fields(decision),
                policy_revision=decision.policy_revision if decision else None,
                decision_id=decision.decision_id if decision else None,
                body_sha256=body_sha256,
                reason=reason,
                consent_status=facts.consent_status(stored),
                consent_scope=facts.consent_scope(stored),
                overrides=[{"id": o.id, "basis": o.basis} for o in decision.overrides] if decision else (),
                ig_review=bool(decision and decision.needs_ig_review),
                interaction=interaction,
                network=ctx.network if ctx else None,
                lawful_basis=lawful_basis,
            ),
        )

    def _write(self, session: Session, planned: dict[str, Any], result: DisclosureResult) -> DisclosureResult:
        """In the write transaction: append the planned entries, tell the publishers; the receipts.

        Reads ``planned`` without changing it: the log writer may run a job again in a new transaction."""
        rows = {new.disclosure_id: log.append(session, new) for new in planned.get(_PENDING, [])}
        released = planned.get(_RELEASED, [])
        if released and self._on_released is not None:
            self._on_released(session, released)
        return replace(result, receipts=self._receipts_for([rows[d] for d in result.disclosure_ids]))

    def _deny_in(
        self,
        session: Session,
        ctx: AccessContext | None,
        subject_key: str | None,
        reason: str,
        status: int,
        body: bytes,
        *,
        event: AuditEvent = AuditEvent.BUNDLE_DENIED,
        client_id: str | None = None,
        interaction: str | None = None,
    ) -> DisclosureResult:
        disclosure_id = log.new_disclosure_id()
        self._append(
            session,
            ctx,
            disclosure_id,
            event,
            Outcome.DENIED,
            self._clock(),
            subject_key=subject_key,
            reason=reason,
            body_sha256=_sha256(body),
            client_id=client_id,
            interaction=interaction,
        )
        return DisclosureResult(status, body, (disclosure_id,))

    def _receipts_for(self, appended: Sequence[Appended]) -> tuple[str, ...]:
        """One signed receipt per log entry answered (see gateway.audit.receipts)."""
        if self._receipts is None:
            return ()
        signer = self._receipts
        return tuple(
            signer.sign(
                disclosure_id=a.disclosure_id,
                leaf_index=a.seq,
                leaf_hash=a.leaf_hash,
                body_sha256=a.entry.body_sha256,
                event=a.entry.event,
                outcome=a.entry.outcome,
                client_id=a.entry.client_id,
                issued_at=a.entry.created_at,
            )
            for a in appended
        )
