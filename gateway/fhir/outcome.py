"""FHIR OperationOutcome: how every refusal and error is told to the caller.

Diagnostics are for the caller and are written by our code; never put personal data in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: R4 IssueSeverity (required binding).
SEVERITIES = frozenset({"fatal", "error", "warning", "information"})

#: R4 IssueType (required binding).
ISSUE_TYPES = frozenset(
    {
        "invalid",
        "structure",
        "required",
        "value",
        "invariant",
        "security",
        "login",
        "unknown",
        "expired",
        "forbidden",
        "suppressed",
        "processing",
        "not-supported",
        "duplicate",
        "multiple-matches",
        "not-found",
        "deleted",
        "too-long",
        "code-invalid",
        "extension",
        "too-costly",
        "business-rule",
        "conflict",
        "transient",
        "lock-error",
        "no-store",
        "exception",
        "timeout",
        "incomplete",
        "throttled",
        "informational",
    }
)


def operation_outcome(issues: Sequence[tuple[str, str, str, str | None]]) -> dict[str, Any]:
    """An OperationOutcome listing every issue, in order.

    Each issue is ``(severity, code, diagnostics, expression)``; ``expression`` (a FHIRPath or field
    path, or ``None``) locates the problem. An empty list or an unknown severity/code is a
    programming error and raises ``ValueError``.
    """
    if not issues:
        raise ValueError("an OperationOutcome needs at least one issue")
    rendered = []
    for severity, code, diagnostics, expression in issues:
        if severity not in SEVERITIES:
            raise ValueError(f"unknown issue severity {severity!r}")
        if code not in ISSUE_TYPES:
            raise ValueError(f"unknown issue type {code!r}")
        issue: dict[str, Any] = {"severity": severity, "code": code}
        if diagnostics:
            issue["diagnostics"] = diagnostics
        if expression:
            issue["expression"] = [expression]
        rendered.append(issue)
    return {"resourceType": "OperationOutcome", "issue": rendered}


def single_issue(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    """An OperationOutcome with one issue and no location."""
    return operation_outcome([(severity, code, diagnostics, None)])
