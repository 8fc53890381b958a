"""Requests for assessment information (FHIR Task): create, read, queue, and the L&D service's workflow.

Each call is one transaction: the Task row, any case link it creates, its disclosure log entry and its
notification commit together or not at all. A refused call rolls back whatever it had started and is
then logged (``request:task:denied``) with a fixed reason, never with what the caller sent.

Visibility: a Task exists only for its two parties, the requesting agency and the owning L&D service;
for anyone else the answer is the 404 an unknown id gets.

This module is the use cases in order; the concerns they use are modules of their own: ``parties``
(who asks, about whom, who owns it), ``workflow`` (what a patch may change), ``storage`` (the encrypted
Task and the case links it declares), ``audit_entries`` (the log entry) and ``fanout`` (notifications).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import store
from gateway.audit.events import AuditEvent
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import AgencyType
from gateway.court_requests import alerts, parties, storage, webhooks, workflow
from gateway.court_requests.audit_entries import record
from gateway.court_requests.codes import REQUESTER_TYPES, TaskStatus
from gateway.court_requests.fanout import Accessed, Fanout
from gateway.court_requests.notify import Notifier
from gateway.court_requests.results import Denied, Refusal, Released, Why, not_found
from gateway.court_requests.task import NewRequest, agency_reference, parse_new_task
from gateway.db import unit_of_work
from gateway.db.agencies import AgencyDirectory, AgencyRef
from gateway.db.models import Assessment, RequestTask
from gateway.issue import Issue
from gateway.keys import KeyRing

__all__ = ["Accessed", "Denied", "Refusal", "Released", "RequestService", "Why"]

_STATUS_EVENTS = {
    TaskStatus.ACCEPTED: AuditEvent.TASK_ACCEPTED,
    TaskStatus.REJECTED: AuditEvent.TASK_REJECTED,
    TaskStatus.COMPLETED: AuditEvent.TASK_COMPLETED,
}


class RequestService:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        notifier: Notifier,
        base_url: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        subscriptions: webhooks.Subscriptions | None = None,
        agencies: AgencyDirectory | None = None,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._agencies = agencies = agencies or AgencyDirectory()
        self._fanout = Fanout(
            keyring=keyring,
            notifier=notifier,
            base_url=base_url,
            clock=clock,
            agencies=agencies,
            subscriptions=subscriptions,
        )

    @property
    def notifier(self) -> Notifier:
        return self._fanout.notifier

    # -- entry points -------------------------------------------------------------------------------

    def create(self, ctx: AccessContext, body: Any) -> Released | Denied:
        """``POST /fhir/Task``."""
        now = self._clock()
        problems: list[Issue] = []
        forbidden = AgencyType(ctx.agency_type) not in REQUESTER_TYPES
        if forbidden:
            problems.append(Issue("forbidden", "this agency type may not request assessment information"))
        parsed, parse_problems = parse_new_task(body, caller=ctx.agency_code, now=now)
        problems += parse_problems

        def work(session: Session) -> Released:
            if problems or parsed is None:
                raise Refusal(
                    Why.FORBIDDEN if forbidden else Why.INVALID,
                    problems,
                    "no-right-to-request" if forbidden else "task-invalid",
                )
            return self._create_in(session, ctx, parsed, now)

        return self._run(ctx, work)

    def read(self, ctx: AccessContext, task_id: str) -> Released | Denied:
        """``GET /fhir/Task/{id}``: for the requester and the owning L&D service only."""

        def work(session: Session) -> Released:
            row, resource = self._visible(session, ctx, task_id)
            return Released(resource, {"ETag": f'W/"{row.version}"'})

        return self._run(ctx, work)

    def search(self, ctx: AccessContext, statuses: Sequence[str]) -> Released | Denied:
        """``GET /fhir/Task?status=...``: the caller's queue (tasks it asked for or owns), soonest deadline first."""

        def work(session: Session) -> Released:
            unknown = [s for s in statuses if s not in set(TaskStatus)]
            if unknown:
                allowed = ", ".join(TaskStatus)
                raise Refusal(
                    Why.MALFORMED,
                    [Issue("value", f"status must be one of {allowed}", "status")],
                    "bad-search-parameter",
                )
            agency = parties.calling_agency(session, self._agencies, ctx.agency_code)
            query = select(RequestTask).where(
                or_(RequestTask.requester_agency_id == agency.id, RequestTask.owner_agency_id == agency.id)
            )
            if statuses:
                query = query.where(RequestTask.status.in_(statuses))
            rows = session.execute(query.order_by(RequestTask.due_at, RequestTask.created_at)).scalars().all()
            entries = [
                {
                    "fullUrl": f"{self._base}/fhir/Task/{row.id}",
                    "resource": storage.load(session, self._keyring, row),
                    "search": {"mode": "match"},
                }
                for row in rows
            ]
            bundle = {
                "resourceType": "Bundle",
                "id": str(uuid.uuid4()),
                "type": "searchset",
                "total": len(entries),
                "link": [{"relation": "self", "url": f"{self._base}/fhir/Task"}],
                "entry": entries,
            }
            return Released(bundle)

        return self._run(ctx, work)

    def patch(
        self, ctx: AccessContext, task_id: str, operations: Any, if_match: str | None = None
    ) -> Released | Denied:
        """``PATCH /fhir/Task/{id}`` (RFC 6902 JSON Patch): the owning L&D service accepts, rejects or completes."""
        now = self._clock()

        def work(session: Session) -> Released:
            row, current = self._visible(session, ctx, task_id, lock=True)
            owner = self._agencies.by_id(session, row.owner_agency_id)
            assert owner is not None
            if owner.code != ctx.agency_code:
                raise Refusal(
                    Why.FORBIDDEN,
                    [Issue("forbidden", "only the L&D service that owns this request may change it")],
                    "not-the-owner",
                )
            if if_match is not None and if_match.strip() not in (f'W/"{row.version}"', f'"{row.version}"'):
                raise Refusal(
                    Why.CONFLICT,
                    [Issue("conflict", "the request has changed since you read it (If-Match)")],
                    "version-conflict",
                )
            changed = workflow.apply_patch(current, operations)
            return self._transition(session, ctx, row, current, changed, now)

        return self._run(ctx, work)

    def candidates(self, ctx: AccessContext, task_id: str) -> Released | Denied:
        """For the owning L&D service: its assessments about the request's person (ids and versions only)."""

        def work(session: Session) -> Released:
            row, _ = self._visible(session, ctx, task_id)
            if row.owner_agency_id != parties.calling_agency(session, self._agencies, ctx.agency_code).id:
                raise Refusal(
                    Why.FORBIDDEN,
                    [Issue("forbidden", "only the owning L&D service may list candidates")],
                    "not-the-owner",
                )
            found = session.execute(
                select(Assessment)
                .where(Assessment.subject_id == row.subject_id, Assessment.publisher_agency_id == row.owner_agency_id)
                .order_by(Assessment.updated_at.desc())
            ).scalars()
            items = [
                {
                    "id": a.id,
                    "version": a.current_version,
                    "updated": a.updated_at.isoformat(),
                    "reference": f"Bundle/{a.id}",
                }
                for a in found
            ]
            return Released({"task": task_id, "assessments": items})

        return self._run(ctx, work)

    # -- assessment notifications (gateway.court_requests.fanout) -----------------------------------

    def on_published(self, session: Session, assessment_id: str, version: int, document: Mapping[str, Any]) -> None:
        """Inside the publishing transaction: tell earlier recipients of a newer version, and of withdrawn consent."""
        self._fanout.on_published(session, assessment_id, version, document)

    def disclosed_in(self, session: Session, accessed: Sequence[Accessed]) -> None:
        """In the pull's own write transaction: tell each released assessment's publisher who was given it."""
        self._fanout.disclosed_in(session, accessed)

    def who_saw(self, ctx: AccessContext, assessment_id: str) -> list[dict[str, Any]] | None:
        """The per-assessment view for its publisher; ``None`` when absent or not the caller's."""

        def read(session: Session) -> list[dict[str, Any]] | None:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None:
                return None
            publisher = self._agencies.by_id(session, assessment.publisher_agency_id)
            if publisher is None or publisher.code != ctx.agency_code:
                return None
            return [s.to_json() for s in alerts.who_saw(session, self._keyring, assessment)]

        # A read: on SQLite it waits for no writer and holds no write lock.
        return unit_of_work.read(self._sessions, read)

    # -- the use cases' steps -----------------------------------------------------------------------

    def _create_in(self, session: Session, ctx: AccessContext, parsed: NewRequest, now: datetime) -> Released:
        subject_id = parties.match_subject(session, self._keyring, parsed)
        owner = parties.owner_of(session, self._agencies, subject_id)
        requester = parties.calling_agency(session, self._agencies, ctx.agency_code)
        task_id = str(uuid.uuid4())
        resource = {
            **parsed.resource,
            "id": task_id,
            "status": TaskStatus.REQUESTED.value,
            "requester": agency_reference(requester.code, requester.name),
            "owner": agency_reference(owner.code, owner.name),
            "authoredOn": now.isoformat(),
        }
        row = RequestTask(
            id=task_id,
            version=0,
            status=TaskStatus.REQUESTED.value,
            subject_id=subject_id,
            requester_agency_id=requester.id,
            owner_agency_id=owner.id,
            priority=parsed.priority,
            due_at=parsed.due,
            output_assessment_id=None,
            case_reference_hmac=store.case_reference_key(self._keyring, requester.code, parsed.case_reference),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        stored = storage.store(session, self._keyring, row, resource, now)
        record(session, self._keyring, ctx, AuditEvent.TASK_CREATED, row, now)
        self._fanout.task_changed(session, row, requester.code, owner.code, "task.created")
        headers = {"Location": f"{self._base}/fhir/Task/{task_id}", "ETag": f'W/"{row.version}"'}
        return Released(stored, headers, created=True)

    def _transition(
        self,
        session: Session,
        ctx: AccessContext,
        row: RequestTask,
        current: dict[str, Any],
        changed: dict[str, Any],
        now: datetime,
    ) -> Released:
        new, problems = workflow.change_problems(current, changed, TaskStatus(row.status))
        output_id: str | None = None
        if new is TaskStatus.COMPLETED:
            output_id, output_problems = self._output(session, row, changed.get("output"))
            problems += output_problems
        if problems or new is None:
            raise Refusal(Why.INVALID, problems, "task-invalid-change")

        requester = self._agencies.by_id(session, row.requester_agency_id)
        owner = self._agencies.by_id(session, row.owner_agency_id)
        assert requester is not None and owner is not None
        if new is TaskStatus.ACCEPTED:
            # Accepting is the L&D service recognising the requester's case: a legitimate relationship.
            for (assessment_id,) in session.execute(
                select(Assessment.id).where(
                    Assessment.subject_id == row.subject_id, Assessment.publisher_agency_id == owner.id
                )
            ):
                self._link(session, row, requester, assessment_id, current, now)
        if new is TaskStatus.COMPLETED and output_id is not None:
            # The answer may be a version published after acceptance, whose links replaced the earlier ones.
            self._link(session, row, requester, output_id, current, now)
            row.output_assessment_id = output_id
        row.status = new.value
        row.version += 1
        row.updated_at = now
        stored = storage.store(session, self._keyring, row, changed, now)
        record(session, self._keyring, ctx, _STATUS_EVENTS[new], row, now, assessment_id=output_id)
        self._fanout.task_changed(session, row, requester.code, owner.code, f"task.{new.value}", output_id)
        return Released(stored, {"ETag": f'W/"{row.version}"'})

    def _link(
        self,
        session: Session,
        row: RequestTask,
        requester: AgencyRef,
        assessment_id: str,
        current: dict[str, Any],
        now: datetime,
    ) -> None:
        case_reference = workflow.case_reference(current)
        storage.link_case(session, self._keyring, row, requester, assessment_id, case_reference, now)

    def _output(self, session: Session, row: RequestTask, output: Any) -> tuple[str | None, list[Issue]]:
        """The completing patch's answer: an assessment the owner published about this request's person."""
        reference = workflow.output_reference(output)
        if reference is None:
            return None, [workflow.OUTPUT_REQUIRED]
        assessment = session.get(Assessment, reference)
        if (
            assessment is None
            or assessment.subject_id != row.subject_id
            or assessment.publisher_agency_id != row.owner_agency_id
        ):
            return None, [
                Issue("invalid", "the output must be an assessment you published about this person", "Task.output")
            ]
        return assessment.id, []

    def _visible(
        self, session: Session, ctx: AccessContext, task_id: str, *, lock: bool = False
    ) -> tuple[RequestTask, dict[str, Any]]:
        """The Task and its resource, when the caller is one of its two parties; the same 404 otherwise."""
        query = select(RequestTask).where(RequestTask.id == task_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        agency = parties.calling_agency(session, self._agencies, ctx.agency_code)
        if row is None or agency.id not in (row.requester_agency_id, row.owner_agency_id):
            raise not_found("unknown-task" if row is None else "not-a-party")
        return row, storage.load(session, self._keyring, row)

    def _run(self, ctx: AccessContext, work: Callable[[Session], Released]) -> Released | Denied:
        """One unit of work; a refusal rolls it back, then is logged on its own and answered."""

        def refused(session: Session, refusal: Refusal) -> Denied:
            disclosure_id = record(
                session, self._keyring, ctx, AuditEvent.TASK_DENIED, None, self._clock(), reason=refusal.reason
            )
            return refusal.denied(disclosure_id)

        return unit_of_work.run_or_refuse(self._sessions, work, Refusal, refused)
