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

from gateway.policy import Decision, run_rego_tests

from .conftest import POLICY_DIR
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
def rego_test_cases(catalogue_ids):
    report = run_rego_tests(POLICY_DIR, catalogue_ids)
    assert report.ok
    return report.cases


def test_every_rego_test_case_decides_identically_on_both_interpreters(rego_test_cases, engine, regopy_oracle):
    assert len(rego_test_cases) >= 100
    for case in rego_test_cases:
        assert comparable(engine.decide(case)) == comparable(regopy_oracle.decide(case)), case


def test_the_rego_test_cases_cover_every_outcome(rego_test_cases, engine):
    decisions = [engine.decide(case) for case in rego_test_cases]
    assert any(d.allowed for d in decisions) and any(not d.allowed for d in decisions)
    assert any(d.overrides for d in decisions)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy_input=policy_inputs())
def test_generated_inputs_decide_identically_on_both_interpreters(policy_input, engine, regopy_oracle):
    a, b = engine.decide(policy_input), regopy_oracle.decide(policy_input)
    assert comparable(a) == comparable(b)
    assert a.deny_reason not in ("policy-error", "policy-malformed", "policy-undefined"), a.errors
