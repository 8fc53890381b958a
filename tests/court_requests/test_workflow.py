"""The request workflow's rules as pure functions: what a JSON Patch may change, which status follows
which, what a completing patch's output must look like (no database, no app)."""

from __future__ import annotations

import pytest

from gateway.court_requests.codes import (
    ASSESSMENT_OUTPUT,
    COURT_CASE_URN,
    TASK_INPUT_SYSTEM,
    TASK_OUTPUT_SYSTEM,
    TaskStatus,
)
from gateway.court_requests.results import Refusal, Why
from gateway.court_requests.workflow import apply_patch, case_reference, change_problems, output_reference
from gateway.issue import Issue

URN = "01AB2345678"
STORED = {
    "resourceType": "Task",
    "status": "requested",
    "intent": "order",
    "input": [{"type": {"coding": [{"system": TASK_INPUT_SYSTEM, "code": COURT_CASE_URN}]}, "valueString": URN}],
    "meta": {"versionId": "0"},
}


def _output(reference: str = "Bundle/a1", code: str = ASSESSMENT_OUTPUT) -> list[dict[str, object]]:
    return [
        {
            "type": {"coding": [{"system": TASK_OUTPUT_SYSTEM, "code": code}]},
            "valueReference": {"reference": reference},
        }
    ]


def _codes(problems: list[Issue]) -> list[tuple[str, str | None]]:
    return [(p.code, p.expression) for p in problems]


def test_accepting_a_requested_task_breaks_no_rule():
    changed = {**STORED, "status": "accepted", "meta": {"versionId": "1"}}
    assert change_problems(STORED, changed, TaskStatus.REQUESTED) == (TaskStatus.ACCEPTED, [])


def test_every_broken_rule_is_reported_not_only_the_first():
    changed = {**STORED, "status": "rejected", "intent": "plan", "output": _output()}
    new, problems = change_problems(STORED, changed, TaskStatus.REQUESTED)
    assert new is TaskStatus.REJECTED
    assert _codes(problems) == [
        ("invalid", "Task.intent"),
        ("required", "Task.statusReason"),
        ("invalid", "Task.output"),
    ]


@pytest.mark.parametrize(
    ("old", "status", "expected"),
    [
        (TaskStatus.REQUESTED, "completed", ("business-rule", "Task.status")),
        (TaskStatus.REJECTED, "accepted", ("business-rule", "Task.status")),
        (TaskStatus.ACCEPTED, "accepted", ("business-rule", "Task.status")),
        (TaskStatus.REQUESTED, "done", ("code-invalid", "Task.status")),
        (TaskStatus.REQUESTED, 3, ("code-invalid", "Task.status")),
    ],
)
def test_a_status_outside_the_transitions_is_refused(old, status, expected):
    _, problems = change_problems({**STORED, "status": old.value}, {**STORED, "status": status}, old)
    assert expected in _codes(problems)


def test_a_rejection_with_a_reason_is_allowed():
    changed = {**STORED, "status": "rejected", "statusReason": {"text": "not ours"}}
    assert change_problems(STORED, changed, TaskStatus.REQUESTED) == (TaskStatus.REJECTED, [])


def test_output_reference_names_one_typed_bundle():
    assert output_reference(_output()) == "a1"
    assert output_reference(_output(reference="Patient/1")) is None
    assert output_reference(_output(code="something-else")) is None
    assert output_reference(_output() * 2) is None
    assert output_reference(None) is None


def test_apply_patch_refuses_what_is_not_a_patch():
    assert apply_patch(STORED, [{"op": "replace", "path": "/status", "value": "accepted"}])["status"] == "accepted"
    for operations, why in (
        ([], Why.MALFORMED),
        ({"op": "replace"}, Why.MALFORMED),
        ([{"op": "remove", "path": "/nope"}], Why.INVALID),
    ):
        with pytest.raises(Refusal) as refused:
            apply_patch(STORED, operations)
        assert (refused.value.why, refused.value.reason) == (why, "bad-patch")


def test_case_reference_is_the_court_case_urn():
    assert case_reference(STORED) == URN
    with pytest.raises(LookupError):
        case_reference({"input": []})
