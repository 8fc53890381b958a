"""Problems the canonical validation finds in a mapped document, located in the document.

The canonical validation (NHS number check digit, age rule, known agencies, identity conflicts) names
canonical paths (``subject.nhs_number``). A supplier sent FHIR, so each is moved onto the element the
value came from (``Bundle.entry[1].resource.identifier[0].value``), or the nearest element that holds
it; the canonical path stays in the diagnostics, so the supplier can look the rule up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.issue import Issue

_STEP = re.compile(r"\.[A-Za-z_][A-Za-z0-9_]*$|\[[^\[\]]*\]$")


def locate(issue: Issue, origins: Mapping[str, str]) -> Issue:
    """``issue`` at the document element its canonical path (or the nearest enclosing one) came from;
    at ``Bundle`` when nothing in the document carried it (a problem of the document as a whole).
    An issue without an expression is returned as it is."""
    path = issue.expression
    if not path:
        return issue
    probe = path
    while probe:
        if probe in origins:
            return Issue(issue.code, f"{path}: {issue.diagnostics}", origins[probe], severity=issue.severity)
        step = _STEP.search(probe)
        if step is None:
            break
        probe = probe[: step.start()]
    return Issue(issue.code, f"{path}: {issue.diagnostics}", "Bundle", severity=issue.severity)


def overlaps(expression: str | None, others: set[str]) -> bool:
    """Whether ``expression`` is, contains or is inside one of ``others`` (the same element's problem)."""
    if expression is None:
        return False
    return any(
        expression == o
        or expression.startswith((o + ".", o + "["))
        or o.startswith((expression + ".", expression + "["))
        for o in others
    )
