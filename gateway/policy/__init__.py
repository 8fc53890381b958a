"""Disclosure policy: the engine interface, the embedded Rego engine, the one reader of a policy
directory, and the input, revision, unit-test and matrix helpers around them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from gateway.policy.decision import Decision, LawfulBasis, OverrideUse, Withheld
    from gateway.policy.engine import (
        EmbeddedRegoEngine,
        PolicyEngine,
        PolicyLoadError,
        decision_from_result,
    )
    from gateway.policy.input import build_input
    from gateway.policy.matrix import compute_matrix, format_matrix
    from gateway.policy.rego_tests import RegoTestReport, RegoTestResult, format_report, run_rego_tests
    from gateway.policy.source import PolicySource, compute_revision, read_policy

# The names below are loaded on first use, not with the package: every `ld-gateway` command loads
# gateway.policy.cli, and so this package, while the engine (regorus), the Rego test runner and the
# matrix are needed only by the commands that decide, test or tabulate.
_HOMES: dict[str, str] = {
    "Decision": "gateway.policy.decision",
    "EmbeddedRegoEngine": "gateway.policy.engine",
    "LawfulBasis": "gateway.policy.decision",
    "OverrideUse": "gateway.policy.decision",
    "PolicyEngine": "gateway.policy.engine",
    "PolicyLoadError": "gateway.policy.engine",
    "PolicySource": "gateway.policy.source",
    "RegoTestReport": "gateway.policy.rego_tests",
    "RegoTestResult": "gateway.policy.rego_tests",
    "Withheld": "gateway.policy.decision",
    "build_input": "gateway.policy.input",
    "compute_matrix": "gateway.policy.matrix",
    "compute_revision": "gateway.policy.source",
    "decision_from_result": "gateway.policy.engine",
    "format_matrix": "gateway.policy.matrix",
    "format_report": "gateway.policy.rego_tests",
    "read_policy": "gateway.policy.source",
    "run_rego_tests": "gateway.policy.rego_tests",
}


__getattr__ = lazy_exports(globals(), _HOMES)


__all__ = [
    "Decision",
    "EmbeddedRegoEngine",
    "LawfulBasis",
    "OverrideUse",
    "PolicyEngine",
    "PolicyLoadError",
    "PolicySource",
    "RegoTestReport",
    "RegoTestResult",
    "Withheld",
    "build_input",
    "compute_matrix",
    "compute_revision",
    "decision_from_result",
    "format_matrix",
    "format_report",
    "read_policy",
    "run_rego_tests",
]
