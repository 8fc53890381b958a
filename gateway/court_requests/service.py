"""Requests for assessment information (FHIR Task): create, read, queue, and the L&D service's workflow.

Each call is one transaction: the Task row, any case link it creates, its disclosure log entry and its
notification commit together or not at all. A refused call rolls back whatever it had started and is
then logged (``request:task:denied``) with a fixed reason, never with what the caller sent.

Visibility: a Task exists only for its two parties, the requesting agency and the owning L&D service;
for anyone else the answer is the 404 an unknown id gets.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import jsonpatch
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import matching
from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import AgencyType
from gateway.court_requests import alerts, webhooks
from gateway.court_requests.codes import (
    ASSESSMENT_OUTPUT,
    COURT_CASE_URN,
    REQUESTER_TYPES,
    TASK_INPUT_SYSTEM,
    TASK_OUTPUT_SYSTEM,
    TRANSITIONS,
    TaskStatus,
)
from gateway.court_requests.notify import Notification, Notifier
from gateway.court_requests.task import NewRequest, agency_reference, parse_new_task, validate_resource
from gateway.db.models import Agency, Assessment, CaseLink, RequestTask, Subject
from gateway.fhir import operation_outcome
from gateway.issue import Issue
from gateway.keys import KeyRing, decrypt, encrypt, unwrap_key

logger = logging.getLogger("gateway.court_requests")

NOT_FOUND_TEXT = "No request with this id is available to you."
UNKNOWN_PERSON_TEXT = "No person on record matches the person named in Task.for."
#: What the owning L&D service may change with PATCH; everything else in the Task is the requester's.
PATCHABLE = frozenset({"status", "statusReason", "output"})


class Accessed(Protocol):
    """A released document, as the publisher's "assessment.accessed" notification names it (the
    disclosure service's ``Released`` has this shape)."""

    @property
    def assessment_id(self) -> str: ...
    @property
    def assessment_version(self) -> int: ...
    @property
    def disclosure_id(self) -> str: ...
    @property
    def agency_code(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def publisher_code(self) -> str: ...


@dataclass(frozen=True)
class TaskResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """A refused call: its HTTP status, its issues for the OperationOutcome, and the log's fixed reason."""

    def __init__(self, status: int, problems: Sequence[Issue], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.problems = list(problems)
        self.reason = reason


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
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._notifier = notifier
        self._base = base_url.rstrip("/")
        self._clock = clock
        self._subscriptions = subscriptions

    @property
    def notifier(self) -> Notifier:
        return self._notifier

    # -- entry points -------------------------------------------------------------------------------

    def create(self, ctx: AccessContext, body: Any) -> TaskResult:
        """``POST /fhir/Task``."""
        now = self._clock()
        problems: list[Issue] = []
        forbidden = AgencyType(ctx.agency_type) not in REQUESTER_TYPES
        if forbidden:
            problems.append(Issue("forbidden", "this agency type may not request assessment information"))
        parsed, parse_problems = parse_new_task(body, caller=ctx.agency_code, now=now)
        problems += parse_problems

        def work(session: Session) -> TaskResult:
            if problems or parsed is None:
                raise Refusal(
                    403 if forbidden else 422, problems, "no-right-to-request" if forbidden else "task-invalid"
                )
            return self._create_in(session, ctx, parsed, now)

        return self._run(ctx, work)

    def read(self, ctx: AccessContext, task_id: str) -> TaskResult:
        """``GET /fhir/Task/{id}``: for the requester and the owning L&D service only."""

        def work(session: Session) -> TaskResult:
            row, resource = self._visible(session, ctx, task_id)
            return TaskResult(200, resource, {"ETag": f'W/"{row.version}"'})

        return self._run(ctx, work)

    def search(self, ctx: AccessContext, statuses: Sequence[str]) -> TaskResult:
        """``GET /fhir/Task?status=...``: the caller's queue (tasks it asked for or owns), soonest deadline first."""
        unknown = [s for s in statuses if s not in set(TaskStatus)]
        if unknown:
            allowed = ", ".join(TaskStatus)
            return self._run(
                ctx,
                _raiser(
                    Refusal(400, [Issue("value", f"status must be one of {allowed}", "status")], "bad-search-parameter")
                ),
            )

        def work(session: Session) -> TaskResult:
            agency = self._agency(session, ctx.agency_code)
            query = select(RequestTask).where(
                or_(RequestTask.requester_agency_id == agency.id, RequestTask.owner_agency_id == agency.id)
            )
            if statuses:
                query = query.where(RequestTask.status.in_(statuses))
            rows = session.execute(query.order_by(RequestTask.due_at, RequestTask.created_at)).scalars().all()
            entries = [
                {
                    "fullUrl": f"{self._base}/fhir/Task/{row.id}",
                    "resource": self._resource(session, row),
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
            return TaskResult(200, bundle)

        return self._run(ctx, work)

    def patch(self, ctx: AccessContext, task_id: str, operations: Any, if_match: str | None = None) -> TaskResult:
        """``PATCH /fhir/Task/{id}`` (RFC 6902 JSON Patch): the owning L&D service accepts, rejects or completes."""
        now = self._clock()

        def work(session: Session) -> TaskResult:
            row, current = self._visible(session, ctx, task_id, lock=True)
            owner = session.get(Agency, row.owner_agency_id)
            assert owner is not None
            if owner.code != ctx.agency_code:
                raise Refusal(
                    403,
                    [Issue("forbidden", "only the L&D service that owns this request may change it")],
                    "not-the-owner",
                )
            if if_match is not None and if_match.strip() not in (f'W/"{row.version}"', f'"{row.version}"'):
                raise Refusal(
                    412,
                    [Issue("conflict", "the request has changed since you read it (If-Match)")],
                    "version-conflict",
                )
            changed = _apply_patch(current, operations)
            return self._transition(session, ctx, row, current, changed, now)

        return self._run(ctx, work)

    # -- assessment notifications (gateway.court_requests.alerts) --------------------------------------------

    def on_published(self, session: Session, assessment_id: str, version: int, document: Mapping[str, Any]) -> None:
        """Inside the publishing transaction: tell earlier recipients of a newer version, and of withdrawn consent."""
        assessment = session.get(Assessment, assessment_id)
        if assessment is None or version <= 1:
            return
        recipients = alerts.earlier_recipients(session, self._keyring, assessment, version)
        if not recipients:
            return
        owner = alerts.publisher_code(session, assessment_id)
        audience = tuple(sorted(recipients | ({owner} if owner else set())))
        link = f"{self._base}/fhir/Bundle/{assessment_id}"
        kinds = ["assessment.amended"]
        if (document.get("consent") or {}).get("status") == "withdrawn":
            kinds.append("consent.withdrawn")
        for kind in kinds:
            self._send(
                session,
                Notification(type=kind, assessment=assessment_id, version=version, link=link, audience=audience),
            )

    def disclosed_in(self, session: Session, accessed: Sequence[Accessed]) -> None:
        """In the pull's own write transaction: tell each released assessment's publisher who was given it,
        for what. Built from what the pull already holds (no re-reading of what it just wrote); durable
        exactly when the disclosure is (the notification outbox commits with the log entry)."""
        for item in accessed:
            self._send(
                session,
                Notification(
                    type="assessment.accessed",
                    assessment=item.assessment_id,
                    version=item.assessment_version,
                    disclosure=item.disclosure_id,
                    agency=item.agency_code,
                    purpose=item.purpose,
                    link=f"{self._base}/assessments/{item.assessment_id}/disclosures",
                    audience=(item.publisher_code,),
                ),
            )

    def who_saw(self, ctx: AccessContext, assessment_id: str) -> list[dict[str, Any]] | None:
        """The per-assessment view for its publisher; ``None`` when absent or not the caller's."""
        with self._sessions() as session:
            assessment = session.get(Assessment, assessment_id)
            if assessment is None or alerts.publisher_code(session, assessment_id) != ctx.agency_code:
                return None
            return [s.to_json() for s in alerts.who_saw(session, self._keyring, assessment)]

    def candidates(self, ctx: AccessContext, task_id: str) -> TaskResult:
        """For the owning L&D service: its assessments about the request's person (ids and versions only)."""

        def work(session: Session) -> TaskResult:
            row, _ = self._visible(session, ctx, task_id)
            if row.owner_agency_id != self._agency(session, ctx.agency_code).id:
                raise Refusal(
                    403, [Issue("forbidden", "only the owning L&D service may list candidates")], "not-the-owner"
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
            return TaskResult(200, {"task": task_id, "assessments": items})

        return self._run(ctx, work)

    def _send(self, session: Session, notification: Notification) -> None:
        self._notifier.publish(session, notification)
        webhooks.enqueue(session, notification, self._clock(), self._subscriptions)

    # -- creating -----------------------------------------------------------------------------------

    def _create_in(self, session: Session, ctx: AccessContext, parsed: NewRequest, now: datetime) -> TaskResult:
        subject_id = self._match_subject(session, parsed)
        owner = self._owner(session, subject_id)
        requester = self._agency(session, ctx.agency_code)
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
            case_reference_hmac=self._keyring.identifier_hmac(
                f"case-reference:{requester.code}", parsed.case_reference
            ),
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        stored = self._store(session, row, resource, now)
        self._record(session, ctx, AuditEvent.TASK_CREATED, row, now)
        self._notify(session, row, requester.code, owner.code, "task.created")
        return TaskResult(201, stored, {"Location": f"{self._base}/fhir/Task/{task_id}", "ETag": f'W/"{row.version}"'})

    def _match_subject(self, session: Session, parsed: NewRequest) -> str:
        """Every identifier one person, name and date of birth agreeing (``assessments.matching``); any
        other case answers exactly as a person nobody knows, the reason going to the log only."""
        match = matching.match_person(
            session,
            self._keyring,
            nhs_number=parsed.nhs_number,
            pnc_id=parsed.pnc_id,
            family_name=parsed.family_name,
            birth_date=parsed.birth_date,
        )
        if match.subject_id is None:
            raise Refusal(422, [Issue("not-found", UNKNOWN_PERSON_TEXT, "Task.for")], match.reason or "unknown-subject")
        return match.subject_id

    def _owner(self, session: Session, subject_id: str) -> Agency:
        """The L&D service that published the person's most recently updated assessment."""
        owner = session.execute(
            select(Agency)
            .join(Assessment, Assessment.publisher_agency_id == Agency.id)
            .join(Subject, Subject.id == Assessment.subject_id)
            .where(
                Assessment.subject_id == subject_id,
                Subject.wrapped_key.is_not(None),
                Agency.type == AgencyType.LD_SERVICE.value,
            )
            .order_by(Assessment.updated_at.desc())
            .limit(1)
        ).scalar_one_or_none()
        if owner is None:
            raise Refusal(422, [Issue("not-found", UNKNOWN_PERSON_TEXT, "Task.for")], "unknown-subject")
        return owner

    # -- the workflow -------------------------------------------------------------------------------

    def _transition(
        self,
        session: Session,
        ctx: AccessContext,
        row: RequestTask,
        current: dict[str, Any],
        changed: dict[str, Any],
        now: datetime,
    ) -> TaskResult:
        problems: list[Issue] = []
        for key in sorted(set(current) | set(changed)):
            if key not in PATCHABLE and key not in ("meta", "lastModified") and current.get(key) != changed.get(key):
                problems.append(
                    Issue(
                        "invalid", f"Task.{key} cannot be changed; only status, statusReason and output", f"Task.{key}"
                    )
                )
        old = TaskStatus(row.status)
        try:
            new = TaskStatus(changed.get("status"))
        except ValueError:
            new = None
            problems.append(Issue("code-invalid", "status must be accepted, rejected or completed", "Task.status"))
        if new is not None and new is not old and new not in TRANSITIONS[old]:
            problems.append(Issue("business-rule", f"a {old} request cannot become {new}", "Task.status"))
        if new is old:
            problems.append(Issue("business-rule", "the patch must change the status", "Task.status"))
        reason = changed.get("statusReason")
        if new is TaskStatus.REJECTED and not (isinstance(reason, dict) and str(reason.get("text", "")).strip()):
            problems.append(Issue("required", "a rejection needs statusReason.text", "Task.statusReason"))
        output_id: str | None = None
        if new is TaskStatus.COMPLETED:
            output_id, output_problems = self._output(session, row, changed.get("output"))
            problems += output_problems
        elif changed.get("output") != current.get("output"):
            problems.append(Issue("invalid", "output is given only when completing", "Task.output"))
        if problems or new is None:
            raise Refusal(422, problems, "task-invalid-change")

        requester = session.get(Agency, row.requester_agency_id)
        owner = session.get(Agency, row.owner_agency_id)
        assert requester is not None and owner is not None
        if new is TaskStatus.ACCEPTED:
            # Accepting is the L&D service recognising the requester's case: a legitimate relationship.
            for (assessment_id,) in session.execute(
                select(Assessment.id).where(
                    Assessment.subject_id == row.subject_id, Assessment.publisher_agency_id == owner.id
                )
            ):
                self._link(session, row, requester, assessment_id, _case_reference(current), now)
        if new is TaskStatus.COMPLETED and output_id is not None:
            # The answer may be a version published after acceptance, whose links replaced the earlier ones.
            self._link(session, row, requester, output_id, _case_reference(current), now)
            row.output_assessment_id = output_id
        row.status = new.value
        row.version += 1
        row.updated_at = now
        stored = self._store(session, row, changed, now)
        event = {
            TaskStatus.ACCEPTED: AuditEvent.TASK_ACCEPTED,
            TaskStatus.REJECTED: AuditEvent.TASK_REJECTED,
            TaskStatus.COMPLETED: AuditEvent.TASK_COMPLETED,
        }[new]
        self._record(session, ctx, event, row, now, assessment_id=output_id)
        self._notify(session, row, requester.code, owner.code, f"task.{new.value}", output_id)
        return TaskResult(200, stored, {"ETag": f'W/"{row.version}"'})

    def _output(self, session: Session, row: RequestTask, output: Any) -> tuple[str | None, list[Issue]]:
        problem = Issue(
            "required",
            f"completing needs one output of type {TASK_OUTPUT_SYSTEM}|{ASSESSMENT_OUTPUT} "
            "whose valueReference is Bundle/{assessment id}",
            "Task.output",
        )
        if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], dict):
            return None, [problem]
        item = output[0]
        codings = (item.get("type") or {}).get("coding") if isinstance(item.get("type"), dict) else None
        typed = isinstance(codings, list) and any(
            isinstance(c, dict) and c.get("system") == TASK_OUTPUT_SYSTEM and c.get("code") == ASSESSMENT_OUTPUT
            for c in codings
        )
        ref = (
            (item.get("valueReference") or {}).get("reference")
            if isinstance(item.get("valueReference"), dict)
            else None
        )
        if not typed or not isinstance(ref, str) or not ref.startswith("Bundle/"):
            return None, [problem]
        assessment = session.get(Assessment, ref.removeprefix("Bundle/"))
        if (
            assessment is None
            or assessment.subject_id != row.subject_id
            or assessment.publisher_agency_id != row.owner_agency_id
        ):
            return None, [
                Issue("invalid", "the output must be an assessment you published about this person", "Task.output")
            ]
        return assessment.id, []

    def _link(
        self, session: Session, row: RequestTask, agency: Agency, assessment_id: str, case_reference: str, now: datetime
    ) -> None:
        digest = self._keyring.identifier_hmac(f"case-reference:{agency.code}", case_reference)
        exists = session.execute(
            select(CaseLink.id).where(
                CaseLink.assessment_id == assessment_id,
                CaseLink.agency_id == agency.id,
                CaseLink.case_reference_hmac == digest,
            )
        ).first()
        if exists:
            return
        session.add(
            CaseLink(
                assessment_id=assessment_id,
                subject_id=row.subject_id,
                agency_id=agency.id,
                # Declared by the owning L&D service, on its own assessment: it opens only that service's records.
                declared_by_agency_id=row.owner_agency_id,
                case_reference_hmac=digest,
                # The same associated data as links recorded at publication (gateway.assessments.store).
                case_reference_ciphertext=encrypt(
                    self._data_key(session, row.subject_id),
                    case_reference.encode(),
                    f"case-reference:{assessment_id}:{agency.id}".encode(),
                ),
                created_at=now,
            )
        )

    # -- storage, log, notification -------------------------------------------------------------------

    def _visible(
        self, session: Session, ctx: AccessContext, task_id: str, *, lock: bool = False
    ) -> tuple[RequestTask, dict[str, Any]]:
        query = select(RequestTask).where(RequestTask.id == task_id)
        if lock:
            query = query.with_for_update()
        row = session.execute(query).scalar_one_or_none()
        agency = self._agency(session, ctx.agency_code)
        if row is None or agency.id not in (row.requester_agency_id, row.owner_agency_id):
            raise Refusal(404, [Issue("not-found", NOT_FOUND_TEXT)], "unknown-task" if row is None else "not-a-party")
        resource = self._resource(session, row)
        return row, resource

    def _store(self, session: Session, row: RequestTask, resource: dict[str, Any], now: datetime) -> dict[str, Any]:
        resource = {
            **resource,
            "meta": {"versionId": str(row.version), "lastUpdated": now.isoformat()},
            "lastModified": now.isoformat(),
        }
        resource = validate_resource(resource)
        row.resource_ciphertext = encrypt(self._data_key(session, row.subject_id), _canonical(resource), _aad(row))
        session.flush()
        return resource

    def _resource(self, session: Session, row: RequestTask) -> dict[str, Any]:
        if row.resource_ciphertext is None:
            raise Refusal(404, [Issue("not-found", NOT_FOUND_TEXT)], "erased-task")
        try:
            key = self._data_key(session, row.subject_id)
        except LookupError:
            raise Refusal(404, [Issue("not-found", NOT_FOUND_TEXT)], "erased-task") from None
        return dict(json.loads(decrypt(key, row.resource_ciphertext, _aad(row))))

    def _data_key(self, session: Session, subject_id: str) -> bytes:
        subject = session.get(Subject, subject_id)
        if subject is None or subject.wrapped_key is None:
            raise LookupError("subject erased")
        return unwrap_key(self._keyring.master_key, subject.wrapped_key, subject.id)

    def _agency(self, session: Session, code: str) -> Agency:
        agency = session.execute(select(Agency).where(Agency.code == code)).scalar_one_or_none()
        if agency is None:
            raise Refusal(403, [Issue("forbidden", "the calling agency is not registered")], "unknown-agency")
        return agency

    def _record(
        self,
        session: Session,
        ctx: AccessContext,
        event: AuditEvent,
        row: RequestTask | None,
        now: datetime,
        *,
        assessment_id: str | None = None,
        reason: str | None = None,
    ) -> str:
        """One log entry per request action: ids and hashes only (the Task id stands in ``decision_id``)."""
        appended = log.append(
            session,
            NewEntry(
                event=event,
                outcome=Outcome.DENIED if event is AuditEvent.TASK_DENIED else Outcome.RECORDED,
                created_at=now,
                client_id=ctx.client_id,
                agency_code=ctx.agency_code,
                agency_type=ctx.agency_type,
                purpose=ctx.purpose,
                subject_key=self._keyring.identifier_hmac("subject", row.subject_id) if row else None,
                assessment_id=assessment_id,
                decision_id=row.id if row else None,
                reason=reason,
            ),
        )
        return appended.disclosure_id

    def _notify(
        self, session: Session, row: RequestTask, requester: str, owner: str, kind: str, output: str | None = None
    ) -> None:
        notification = Notification(
            type=kind,
            task=row.id,
            status=row.status,
            link=f"{self._base}/fhir/Task/{row.id}",
            output=f"{self._base}/fhir/Bundle/{output}" if output else None,
            audience=(requester, owner),
        )
        self._send(session, notification)

    def _run(self, ctx: AccessContext, work: Callable[[Session], TaskResult]) -> TaskResult:
        """One transaction; a refusal rolls it back, then is logged on its own and answered."""
        try:
            with self._sessions.begin() as session:
                return work(session)
        except Refusal as refusal:
            with self._sessions.begin() as session:
                disclosure_id = self._record(
                    session, ctx, AuditEvent.TASK_DENIED, None, self._clock(), reason=refusal.reason
                )
            return TaskResult(refusal.status, operation_outcome(refusal.problems), {"X-Disclosure-Id": disclosure_id})


def _raiser(refusal: Refusal) -> Callable[[Session], TaskResult]:
    def work(_session: Session) -> TaskResult:
        raise refusal

    return work


def _apply_patch(current: dict[str, Any], operations: Any) -> dict[str, Any]:
    if not isinstance(operations, list) or not operations:
        raise Refusal(400, [Issue("structure", "the body must be a non-empty RFC 6902 JSON Patch array")], "bad-patch")
    try:
        patched = jsonpatch.JsonPatch(operations).apply(current)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, ValueError):
        raise Refusal(422, [Issue("structure", "the JSON Patch cannot be applied to this Task")], "bad-patch") from None
    if not isinstance(patched, dict):
        raise Refusal(422, [Issue("structure", "the JSON Patch must leave a Task")], "bad-patch")
    return patched


def _case_reference(resource: dict[str, Any]) -> str:
    for item in resource.get("input", []):
        codings = (item.get("type") or {}).get("coding") or []
        if any(c.get("system") == TASK_INPUT_SYSTEM and c.get("code") == COURT_CASE_URN for c in codings):
            return str(item["valueString"]).strip()
    raise LookupError("stored Task has no court case URN")


def _aad(row: RequestTask) -> bytes:
    return f"task:{row.id}:{row.version}".encode()


def _canonical(resource: dict[str, Any]) -> bytes:
    return json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
