from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.policy import Decision
from gateway.policy.cache import CachingEngine
from gateway.policy.matrix import matrix_input


def same(a: Decision, b: Decision) -> bool:
    return (a.allowed, a.released, a.withheld, a.obligations, a.overrides, a.deny_reason, a.policy_revision) == (
        b.allowed,
        b.released,
        b.withheld,
        b.obligations,
        b.overrides,
        b.deny_reason,
        b.policy_revision,
    )


class Counting:
    """A real engine, counting the decisions it was asked for."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0
        self.revision = inner.revision

    def decide(self, policy_input):
        self.calls += 1
        return self.inner.decide(policy_input)


def test_a_hit_is_the_same_decision_under_a_new_id(engine):
    counting = Counting(engine)
    cache = CachingEngine(counting)
    policy_input = matrix_input("probation", "sentencing", "given", "adult")

    first, second = cache.decide(policy_input), cache.decide(copy.deepcopy(policy_input))

    assert same(first, second) and first.decision_id != second.decision_id
    assert counting.calls == 1 and (cache.hits, cache.misses) == (1, 1)
    assert cache.revision == engine.revision


def test_a_consent_change_is_a_different_question(engine):
    cache = CachingEngine(engine)
    given = matrix_input("probation", "sentencing", "given", "adult")
    withdrawn = copy.deepcopy(given)
    withdrawn["consent"]["status"] = "withdrawn"

    assert "clinical.diagnoses" in cache.decide(given).released
    assert "clinical.diagnoses" not in cache.decide(withdrawn).released
    assert same(cache.decide(withdrawn), engine.decide(withdrawn))


def test_an_override_coming_into_force_or_expiring_is_a_different_question(engine):
    cache = CachingEngine(engine)
    declined = matrix_input("police", "charging", "declined", "adult")
    overridden = {**declined, "overrides": [{"id": "o", "basis": "safeguarding", "recipients": ["MATRIX-POLICE"]}]}

    before = cache.decide(declined)
    during = cache.decide(overridden)
    after = cache.decide(declined)

    assert "risk.assessment" not in before.released
    assert "risk.assessment" in during.released and during.needs_ig_review
    assert same(after, before) and not after.overrides


def test_engine_errors_are_not_cached():
    class Flaky:
        revision = "sha256:flaky"

        def __init__(self) -> None:
            self.calls = 0

        def decide(self, policy_input):
            self.calls += 1
            return Decision.denied("policy-error", policy_revision=self.revision, decision_id="d", errors=("boom",))

    flaky = Flaky()
    cache = CachingEngine(flaky)
    cache.decide({"purpose": "x"})
    cache.decide({"purpose": "x"})

    assert flaky.calls == 2


def test_least_recently_used_is_evicted(engine):
    counting = Counting(engine)
    cache = CachingEngine(counting, maxsize=2)
    a, b, c = (matrix_input(t, "charging", "given", "adult") for t in ("police", "cps", "court"))
    for policy_input in (a, b, a, c, a, b):
        cache.decide(policy_input)

    assert counting.calls == 4  # a, b, c, then b again (evicted by c; a was used more recently)


def test_a_zero_size_cache_is_refused(engine):
    with pytest.raises(ValueError):
        CachingEngine(engine, maxsize=0)
