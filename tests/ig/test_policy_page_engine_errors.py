"""The IG policy page while the policy engine fails (an OPA timeout, the embedded engine's thread busy):
a clear "the policy engine did not answer; try again" (503), never a matrix of refusals the policy did
not make, and nothing drawn meanwhile kept for the revision."""

from __future__ import annotations

import html
import json
import shutil
import uuid
from datetime import UTC, datetime, timedelta

from gateway.policy.decision import Decision
from gateway.policy.engine import POLICY_ERROR
from gateway.policy.store import store_revision
from tests.conftest import ROOT
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


def test_policy_page_does_not_keep_a_matrix_drawn_while_the_engine_erred(gateway, staff, browser, monkeypatch):
    browser.sign_in("auditor")
    engine = ig_state(gateway).gateway.policy
    healthy = browser.get("/ig/policy?consent=given&age_group=adult")
    assert healthy.status_code == 200
    ig_state(gateway).matrix_cache.clear()
    with monkeypatch.context() as patched:
        patched.setattr(engine, "decide", erring_decide(engine))
        during = browser.get("/ig/policy?consent=given&age_group=adult")
        assert during.status_code == 503
        assert "The policy engine did not answer" in during.text and REFUSED_CELL not in during.text
    assert ig_state(gateway).matrix_cache == {}, "nothing drawn while the engine erred is kept"
    after = browser.get("/ig/policy?consent=given&age_group=adult")
    assert after.status_code == 200
    assert after.text.count(REFUSED_CELL) == healthy.text.count(REFUSED_CELL)


def test_policy_page_does_not_keep_changes_drawn_while_the_engine_erred(gateway, staff, browser, monkeypatch, tmp_path):
    """The matrix is kept from an earlier view, but the comparison with the previous stored revision is
    asked again while the engine fails: "not compared", then the real changes once it answers, never
    "now refused: policy-error" for every view."""
    earlier = tmp_path / "earlier"
    shutil.copytree(ROOT / "policies", earlier)
    data = json.loads((earlier / "data.json").read_text())
    data["gateway"]["permissions"]["case-management"]["court"].remove("fitness.plead")
    (earlier / "data.json").write_text(json.dumps(data))
    with gateway.sessions.begin() as session:
        stored = store_revision(
            session, earlier, gateway.app.state.gateway.catalogue.ids, datetime.now(UTC) - timedelta(days=1)
        )
    browser.sign_in("auditor")
    engine = ig_state(gateway).gateway.policy
    healthy = html.unescape(browser.get("/ig/policy").text)
    assert stored in healthy and "views change" in healthy
    ig_state(gateway).changes_cache.clear()  # the matrix stays kept; the comparison is asked again
    with monkeypatch.context() as patched:
        patched.setattr(engine, "decide", erring_decide(engine))
        during = browser.get("/ig/policy")
        assert during.status_code == 200, "the kept matrix is still the policy's answer"
        text = html.unescape(during.text)
        assert "not compared" in text and "did not answer" in text and "try again" in text
        assert "now refused" not in text and "views change" not in text
    assert ig_state(gateway).changes_cache == {}
    after = html.unescape(browser.get("/ig/policy").text)
    assert "views change" in after and "now refused: policy-error" not in after
