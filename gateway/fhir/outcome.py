"""FHIR OperationOutcome: how every refusal, error and warning is told to the caller.

Every concern reports its problems as :class:`gateway.issue.Issue` values; this renders them.
Diagnostics are for the caller and are written by our code; never put personal data in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.issue import ISSUE_TYPES, SEVERITIES, Issue

__all__ = ["ISSUE_TYPES", "SEVERITIES", "Issue", "operation_outcome", "single_issue"]


def operation_outcome(issues: Sequence[Issue]) -> dict[str, Any]:
    """An OperationOutcome listing every issue, in order.

    An empty list is a programming error and raises ``ValueError`` (an OperationOutcome has at least
    one issue).
    """
    if not issues:
        raise ValueError("an OperationOutcome needs at least one issue")
    rendered = []
    for issue in issues:
        if not isinstance(issue, Issue):
            raise TypeError(f"an OperationOutcome issue must be an Issue, not {type(issue).__name__}")
        item: dict[str, Any] = {"severity": issue.severity, "code": issue.code}
        if issue.diagnostics:
            item["diagnostics"] = issue.diagnostics
        if issue.expression:
            item["expression"] = [issue.expression]
        rendered.append(item)
    return {"resourceType": "OperationOutcome", "issue": rendered}


def single_issue(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue and no location."""
    return operation_outcome([Issue(code, diagnostics, severity=severity)])
