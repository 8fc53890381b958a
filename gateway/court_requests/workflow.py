"""The L&D service's workflow on a request: which changes a JSON Patch may make, and which status may
follow which (``codes.TRANSITIONS``). Pure functions of the stored and the patched Task; no I/O.

The owner may change only ``status``, ``statusReason`` and ``output``; a rejection says why; only
completing names an output, and that output is an assessment (checked against the database by the
service, after the rules here).
"""

from __future__ import annotations

from typing import Any

from gateway.court_requests.codes import (
    ASSESSMENT_OUTPUT,
    COURT_CASE_URN,
    TASK_INPUT_SYSTEM,
    TASK_OUTPUT_SYSTEM,
    TRANSITIONS,
    TaskStatus,
)
from gateway.court_requests.results import Refusal, Why
from gateway.issue import Issue

#: What the owning L&D service may change with PATCH; everything else in the Task is the requester's.
PATCHABLE = frozenset({"status", "statusReason", "output"})
#: Set by the gateway on every store, so they differ between any two versions.
_STAMPS = ("meta", "lastModified")

OUTPUT_REQUIRED = Issue(
    "required",
    f"completing needs one output of type {TASK_OUTPUT_SYSTEM}|{ASSESSMENT_OUTPUT} "
    "whose valueReference is Bundle/{assessment id}",
    "Task.output",
)


def apply_patch(current: dict[str, Any], operations: Any) -> dict[str, Any]:
    """The Task after an RFC 6902 JSON Patch; a :class:`Refusal` when the patch is not one or fails."""
    if not isinstance(operations, list) or not operations:
        raise Refusal(
            Why.MALFORMED, [Issue("structure", "the body must be a non-empty RFC 6902 JSON Patch array")], "bad-patch"
        )
    import jsonpatch  # here, not at the top: only a PATCH of a Task needs it

    try:
        patched = jsonpatch.JsonPatch(operations).apply(current)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, ValueError):
        raise Refusal(
            Why.INVALID, [Issue("structure", "the JSON Patch cannot be applied to this Task")], "bad-patch"
        ) from None
    if not isinstance(patched, dict):
        raise Refusal(Why.INVALID, [Issue("structure", "the JSON Patch must leave a Task")], "bad-patch")
    return patched


def change_problems(
    current: dict[str, Any], changed: dict[str, Any], old: TaskStatus
) -> tuple[TaskStatus | None, list[Issue]]:
    """The status the patch moves to (None when it is not a status), and every rule it breaks, the
    output's own check aside (:func:`output_reference`, then the service's ownership check)."""
    problems: list[Issue] = []
    for key in sorted(set(current) | set(changed)):
        if key not in PATCHABLE and key not in _STAMPS and current.get(key) != changed.get(key):
            problems.append(
                Issue("invalid", f"Task.{key} cannot be changed; only status, statusReason and output", f"Task.{key}")
            )
    new = _status(changed.get("status"))
    if new is None:
        problems.append(Issue("code-invalid", "status must be accepted, rejected or completed", "Task.status"))
    if new is not None and new is not old and new not in TRANSITIONS[old]:
        problems.append(Issue("business-rule", f"a {old} request cannot become {new}", "Task.status"))
    if new is old:
        problems.append(Issue("business-rule", "the patch must change the status", "Task.status"))
    reason = changed.get("statusReason")
    if new is TaskStatus.REJECTED and not (isinstance(reason, dict) and str(reason.get("text", "")).strip()):
        problems.append(Issue("required", "a rejection needs statusReason.text", "Task.statusReason"))
    if new is not TaskStatus.COMPLETED and changed.get("output") != current.get("output"):
        problems.append(Issue("invalid", "output is given only when completing", "Task.output"))
    return new, problems


def _status(value: Any) -> TaskStatus | None:
    try:
        return TaskStatus(value) if isinstance(value, str) else None
    except ValueError:
        return None


def output_reference(output: Any) -> str | None:
    """The assessment id a completing patch's single ``output`` names (``Bundle/{id}``), None if malformed."""
    if not isinstance(output, list) or len(output) != 1 or not isinstance(output[0], dict):
        return None
    item = output[0]
    codings = (item.get("type") or {}).get("coding") if isinstance(item.get("type"), dict) else None
    typed = isinstance(codings, list) and any(
        isinstance(c, dict) and c.get("system") == TASK_OUTPUT_SYSTEM and c.get("code") == ASSESSMENT_OUTPUT
        for c in codings
    )
    value = item.get("valueReference")
    ref = value.get("reference") if isinstance(value, dict) else None
    if not typed or not isinstance(ref, str) or not ref.startswith("Bundle/"):
        return None
    return ref.removeprefix("Bundle/")


def case_reference(resource: dict[str, Any]) -> str:
    """The court case URN of a stored Task (always present: the request was refused without one)."""
    for item in resource.get("input", []):
        codings = (item.get("type") or {}).get("coding") or []
        if any(c.get("system") == TASK_INPUT_SYSTEM and c.get("code") == COURT_CASE_URN for c in codings):
            return str(item["valueString"]).strip()
    raise LookupError("stored Task has no court case URN")
