"""Differential testing: the gateway's engine (regorus) and an independent interpreter (regopy, rego-cpp:
tests/policy/regopy_oracle.py) decide every input identically.

Two sources of inputs: every input the Rego unit tests decide (collected by ``policy test``), and
generated ones (hypothesis, at least 1,000). The interpreters share nothing but the policy text, so a
difference is a bug in one of them (rego-cpp's ``min()`` comparing 11 < 3 was found this way).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from gateway.policy import Decision

from .strategies import policy_inputs


def comparable(decision: Decision) -> tuple[Any, ...]:
    # Everything but the decision id, which is random per decision.
    return (
        decision.allowed,
        decision.released,
        decision.withheld,
        decision.obligations,
        decision.overrides,
        decision.deny_reason,
        decision.errors,
        decision.policy_revision,
    )


@pytest.fixture(scope="module")
def rego_test_cases(rego_report):
    assert rego_report.ok
    return rego_report.cases


@pytest.fixture(scope="module")
def rego_case_decisions(rego_test_cases, engine) -> list[Decision]:
    """The gateway engine's decision of each Rego test case, made once for the two tests that read them."""
    return [engine.decide(case) for case in rego_test_cases]


def test_every_rego_test_case_decides_identically_on_both_interpreters(
    rego_test_cases, rego_case_decisions, regopy_oracle
):
    assert len(rego_test_cases) >= 100
    assert len(rego_case_decisions) == len(rego_test_cases)
    for case, decision in zip(rego_test_cases, rego_case_decisions, strict=True):
        assert comparable(decision) == comparable(regopy_oracle.decide(case)), case


def test_the_rego_test_cases_cover_every_outcome(rego_case_decisions):
    decisions = rego_case_decisions
    assert any(d.allowed for d in decisions) and any(not d.allowed for d in decisions)
    assert any(d.overrides for d in decisions)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_input=policy_inputs())
def test_generated_inputs_decide_identically_on_both_interpreters(policy_input, engine, regopy_oracle):
    a, b = engine.decide(policy_input), regopy_oracle.decide(policy_input)
    assert comparable(a) == comparable(b)
    assert a.deny_reason not in ("policy-error", "policy-malformed", "policy-undefined"), a.errors
