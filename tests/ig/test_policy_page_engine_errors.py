"""The IG policy page while the policy engine fails (an OPA timeout, the embedded engine's thread busy):
a clear "the policy engine did not answer; try again" (503), never a matrix of refusals the policy did
not make, and nothing drawn meanwhile kept for the revision."""

from __future__ import annotations

import html
import uuid

from gateway.policy.decision import Decision
from gateway.policy.engine import POLICY_ERROR
from tests.ig.conftest import ig_state

REFUSED_CELL = 'ig-tag--denied">refused</strong>'


def erring_decide(engine):
    def decide(policy_input):
        return Decision.denied(
            POLICY_ERROR, policy_revision=engine.revision, decision_id=str(uuid.uuid4()), errors=("timed out",)
        )

    return decide


def test_policy_page_says_the_engine_did_not_answer_instead_of_showing_refusals(gateway, staff, browser, monkeypatch):
    browser.sign_in("auditor")
    engine = ig_state(gateway).gateway.policy
    ig_state(gateway).matrix_cache.clear()
    monkeypatch.setattr(engine, "decide", erring_decide(engine))

    during = browser.get("/ig/policy?consent=declined&age_group=child")

    assert during.status_code == 503
    assert during.headers["retry-after"] == "5"
    text = html.unescape(during.text)
    assert "The policy engine did not answer" in text
    assert "police at custody, consent given, adult" in text and "policy-error" in text and "timed out" in text
    assert 'href="/ig/policy?consent=declined&age_group=child">Try again' in text
    assert REFUSED_CELL not in during.text and "<table" not in during.text
