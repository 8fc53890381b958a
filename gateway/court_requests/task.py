"""Reading a new request (FHIR R4 Task) and writing Task resources: pure functions, no I/O.

A request names its person in one of two ways (DOMAIN.md: the NHS number is often unknown):

- ``for.identifier`` with the NHS number system, or
- ``for.reference`` ``#id`` to a contained Patient that carries the NHS number, or the PNC ID together
  with a family name and a date of birth (which must match the person on record: a PNC ID typed wrongly
  must not find someone else).

The court case URN travels as a ``Task.input`` of type ``court-case-urn``; the hearing time is
``Task.restriction.period.end``. The requester and the owner are set by the gateway (from the access
token and from who published the person's assessments), never taken from the body.

Structure is checked with fhir.resources (its R4B model: Task, Patient, Reference and Annotation are
unchanged from R4), then the rules above. Every problem is collected; nothing is decided on the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pydantic

from gateway.assessments.identifiers import is_valid_nhs_number, is_valid_pnc_id, normalise_pnc_id
from gateway.court_requests.codes import (
    AGENCY_CODE_SYSTEM,
    ASSESSMENT_INFORMATION_REQUEST,
    COURT_CASE_URN,
    NHS_NUMBER_SYSTEM,
    PNC_ID_SYSTEM,
    PRIORITIES,
    REQUEST_TYPE_SYSTEM,
    TASK_INPUT_SYSTEM,
    TaskStatus,
)
from gateway.issue import Issue

if TYPE_CHECKING:
    from fhir.resources.R4B.task import Task

MAX_CASE_REFERENCE = 64
MAX_NOTE = 2000
_SET_BY_GATEWAY = ("id", "meta", "owner", "output", "statusReason", "businessStatus", "lastModified")


@dataclass(frozen=True)
class NewRequest:
    """What the gateway needs from a valid request. ``resource`` is the Task as it will be stored."""

    nhs_number: str | None
    pnc_id: str | None
    family_name: str | None
    birth_date: date | None
    case_reference: str
    priority: str
    due: datetime
    resource: dict[str, Any]


def parse_new_task(body: Any, *, caller: str, now: datetime) -> tuple[NewRequest | None, list[Issue]]:
    """A ``NewRequest`` from a POSTed Task, or every problem with it."""
    if not isinstance(body, dict) or body.get("resourceType") != "Task":
        return None, [Issue("structure", "the body must be a FHIR Task resource")]
    problems: list[Issue] = []
    task: Task | None = None
    try:
        task = _task_model().model_validate(body)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
            problems.append(
                Issue("structure", f"not a valid R4 Task: {err.get('msg')}", f"Task.{where}" if where else None)
            )
    # The rules below read the plain JSON, so a structural error elsewhere does not hide them.
    for name in _SET_BY_GATEWAY:
        if name in body:
            problems.append(
                Issue("invalid", f"Task.{name} is set by the gateway, not by the requester", f"Task.{name}")
            )
    if body.get("status") != TaskStatus.REQUESTED:
        problems.append(Issue("value", "a new request must have status 'requested'", "Task.status"))
    if body.get("intent") != "order":
        problems.append(Issue("value", "a request must have intent 'order'", "Task.intent"))
    if not _has_coding(body.get("code"), REQUEST_TYPE_SYSTEM, ASSESSMENT_INFORMATION_REQUEST):
        problems.append(
            Issue(
                "code-invalid", f"Task.code must be {REQUEST_TYPE_SYSTEM}|{ASSESSMENT_INFORMATION_REQUEST}", "Task.code"
            )
        )
    priority = body.get("priority", "routine")
    if priority not in PRIORITIES:
        problems.append(Issue("code-invalid", f"Task.priority must be one of {', '.join(PRIORITIES)}", "Task.priority"))
    requester = body.get("requester")
    if requester is not None and _agency_code(requester) != caller:
        problems.append(
            Issue(
                "forbidden", "Task.requester must be the calling agency (it is taken from the token)", "Task.requester"
            )
        )
    person, person_problems = _person(body)
    problems += person_problems
    case_reference, case_problems = _case_reference(body.get("input"))
    problems += case_problems
    due, due_problems = _deadline(task, body, now)
    problems += due_problems
    for i, note in enumerate(body.get("note") or []):
        if isinstance(note, dict) and len(str(note.get("text", ""))) > MAX_NOTE:
            problems.append(Issue("too-long", f"a note is limited to {MAX_NOTE} characters", f"Task.note[{i}].text"))
    if problems or task is None or due is None or case_reference is None or person is None:
        return None, problems
    resource = {k: v for k, v in body.items() if k != "requester"}
    resource["priority"] = priority
    nhs, pnc, family, born = person
    return NewRequest(nhs, pnc, family, born, case_reference, priority, due, resource), []


def _has_coding(concept: Any, system: str, code: str) -> bool:
    codings = concept.get("coding") if isinstance(concept, dict) else None
    return isinstance(codings, list) and any(
        isinstance(c, dict) and c.get("system") == system and c.get("code") == code for c in codings
    )


def _agency_code(reference: Any) -> str | None:
    identifier = reference.get("identifier") if isinstance(reference, dict) else None
    if isinstance(identifier, dict) and identifier.get("system") == AGENCY_CODE_SYSTEM:
        value = identifier.get("value")
        return value if isinstance(value, str) else None
    return None


def _identifier_values(identifiers: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for ident in identifiers if isinstance(identifiers, list) else [identifiers]:
        if isinstance(ident, dict) and isinstance(ident.get("system"), str) and isinstance(ident.get("value"), str):
            found.setdefault(ident["system"], ident["value"])
    return found


def _person(
    body: dict[str, Any],
) -> tuple[tuple[str | None, str | None, str | None, date | None] | None, list[Issue]]:
    target = body.get("for")
    if not isinstance(target, dict):
        return None, [
            Issue(
                "required",
                "Task.for must name the person (NHS number, or PNC ID with name and date of birth)",
                "Task.for",
            )
        ]
    family: str | None = None
    born: date | None = None
    problems: list[Issue] = []
    if "identifier" in target:
        values = _identifier_values(target["identifier"])
        where = "Task.for.identifier"
    elif isinstance(target.get("reference"), str) and target["reference"].startswith("#"):
        wanted = target["reference"][1:]
        patients = [
            c
            for c in body.get("contained") or []
            if isinstance(c, dict) and c.get("resourceType") == "Patient" and c.get("id") == wanted
        ]
        if len(patients) != 1:
            return None, [Issue("invalid", "Task.for must reference a contained Patient", "Task.for.reference")]
        patient = patients[0]
        values = _identifier_values(patient.get("identifier"))
        where = "Task.contained.Patient.identifier"
        names = patient.get("name")
        if isinstance(names, list) and names and isinstance(names[0], dict):
            family = names[0].get("family") if isinstance(names[0].get("family"), str) else None
        if isinstance(patient.get("birthDate"), str):
            try:
                born = date.fromisoformat(patient["birthDate"])
            except ValueError:
                problems.append(
                    Issue("value", "birthDate must be a full date (YYYY-MM-DD)", "Task.contained.Patient.birthDate")
                )
    else:
        return None, [
            Issue("invalid", "Task.for must be an identifier or a reference to a contained Patient", "Task.for")
        ]

    nhs = values.get(NHS_NUMBER_SYSTEM)
    pnc = values.get(PNC_ID_SYSTEM)
    if nhs is not None:
        nhs = nhs.replace(" ", "")
        if not is_valid_nhs_number(nhs):
            problems.append(Issue("value", "the NHS number is not valid (check digit)", where))
    if pnc is not None:
        pnc = normalise_pnc_id(pnc.strip())
        if not is_valid_pnc_id(pnc):
            problems.append(Issue("value", "the PNC ID is not valid (format or check letter)", where))
    if nhs is None and pnc is None:
        problems.append(
            Issue("required", "the person needs an NHS number, or a PNC ID with name and date of birth", where)
        )
    elif pnc is not None and (not family or born is None):
        # A PNC ID is too easy to mistype into someone else's: it always comes with name and date of birth.
        problems.append(
            Issue("required", "a PNC ID needs the family name and date of birth (a contained Patient)", "Task.for")
        )
    return (None if problems else (nhs, pnc, family, born)), problems


def _case_reference(inputs: Any) -> tuple[str | None, list[Issue]]:
    found = [
        (i, item)
        for i, item in enumerate(inputs if isinstance(inputs, list) else [])
        if isinstance(item, dict) and _has_coding(item.get("type"), TASK_INPUT_SYSTEM, COURT_CASE_URN)
    ]
    if len(found) != 1:
        return None, [
            Issue("required", f"give exactly one Task.input of type {TASK_INPUT_SYSTEM}|{COURT_CASE_URN}", "Task.input")
        ]
    i, item = found[0]
    value = item.get("valueString")
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_CASE_REFERENCE:
        return None, [
            Issue(
                "value",
                f"the court case URN must be valueString, 1 to {MAX_CASE_REFERENCE} characters",
                f"Task.input[{i}]",
            )
        ]
    return value.strip(), []


def _deadline(task: Task | None, body: dict[str, Any], now: datetime) -> tuple[datetime | None, list[Issue]]:
    restriction = body.get("restriction")
    period = restriction.get("period") if isinstance(restriction, dict) else None
    if not isinstance(period, dict) or "end" not in period:
        return None, [
            Issue("required", "give the hearing time as Task.restriction.period.end", "Task.restriction.period.end")
        ]
    end = task.restriction.period.end if task and task.restriction and task.restriction.period else None
    if not isinstance(end, datetime) or end.tzinfo is None:
        return None, [
            Issue("value", "the hearing time must be a dateTime with a time zone", "Task.restriction.period.end")
        ]
    if end <= now:
        return None, [Issue("business-rule", "the hearing time is in the past", "Task.restriction.period.end")]
    return end, []


def agency_reference(code: str, name: str | None = None) -> dict[str, Any]:
    reference: dict[str, Any] = {"type": "Organization", "identifier": {"system": AGENCY_CODE_SYSTEM, "value": code}}
    if name:
        reference["display"] = name
    return reference


def validate_resource(resource: dict[str, Any]) -> dict[str, Any]:
    """A Task the gateway built, checked by the same model before anyone sees it."""
    return _task_model().model_validate(resource).model_dump(mode="json", exclude_none=True)


def _task_model() -> type[Task]:
    # Imported when first needed, not at the top: the FHIR models are megabytes of every serving
    # process, and only court requests (Tasks) use them.
    from fhir.resources.R4B.task import Task

    return Task
