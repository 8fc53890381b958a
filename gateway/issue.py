"""One problem (or warning) with something a caller sent: the single shape every concern reports in.

An :class:`Issue` is what becomes one ``OperationOutcome.issue`` (:func:`gateway.fhir.outcome.operation_outcome`
renders a list of them). Validation of assessments, FHIR documents, Tasks, overrides and search
parameters all produce it, so a problem found anywhere reaches the caller the same way.

It sits at the bottom of the package, importing nothing of the gateway, because both the canonical
assessment's validation (``gateway.assessments``) and FHIR rendering (``gateway.fhir``, which reads the
catalogue from ``gateway.assessments``) need it.

Diagnostics are written by our code and never repeat submitted values: an error response must not become
a second copy of the person's data. ``expression`` locates the problem (a FHIRPath, a canonical field
path such as ``subject.nhs_number``, a JSON Pointer, or a parameter or header name).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

#: R4 IssueSeverity (required binding).
SEVERITIES: Final = frozenset({"fatal", "error", "warning", "information"})

#: R4 IssueType (required binding).
ISSUE_TYPES: Final = frozenset(
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


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome issue: ``code`` (an R4 IssueType), ``diagnostics`` (for the caller),
    ``expression`` (where, or ``None``) and ``severity`` (``error`` unless said otherwise).

    An unknown severity or code is a programming error and raises ``ValueError`` when the issue is made,
    not later when it is rendered.
    """

    code: str
    diagnostics: str
    expression: str | None = None
    severity: str = field(default="error", kw_only=True)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown issue severity {self.severity!r}")
        if self.code not in ISSUE_TYPES:
            raise ValueError(f"unknown issue type {self.code!r}")

    @classmethod
    def warning(cls, code: str, diagnostics: str, expression: str | None = None) -> Issue:
        """An issue that does not stop the request (it still succeeds), told so that it can be corrected."""
        return cls(code, diagnostics, expression, severity="warning")

    @property
    def is_error(self) -> bool:
        return self.severity in ("error", "fatal")
