"""Disclosure policy: the engine interface, the embedded Rego engine, the one reader of a policy
directory, and the input, revision, unit-test and matrix helpers around them."""

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
