"""The override review queue over HTTP: an override recorded by the L&D service and relied on by a
disclosure waits for review; an admin approves it or raises a concern with a note; auditors cannot."""

from __future__ import annotations

import html

from gateway.db.models import OverrideReview
from tests.ig.conftest import StaffBrowser
from tests.ig.test_http import staff_events
from tests.overrides.test_override_flow import REASON, override_body, pull, record, republish

NOTE = "Basis checked with the safeguarding lead."


def _relied_on_override(gateway) -> tuple[str, str]:
    republish(gateway, status="declined")
    override_id = record(gateway, override_body()).json()["id"]
    _status, _body, entry = pull(gateway, "POL-NE", "charging")
    assert entry["ig_review"] is True
    return override_id, entry["disclosure_id"]


def test_an_override_waits_for_review_with_its_reason_and_the_disclosures_that_relied_on_it(gateway, staff, browser):
    override_id, disclosure_id = _relied_on_override(gateway)
    browser.sign_in("auditor")
    assert "1 awaiting review" in html.unescape(browser.get("/ig/").text).replace("Overrides awaiting review", "")
    queue = browser.get("/ig/overrides")
    assert "Awaiting review (1)" in queue.text and f"/ig/overrides/{override_id}" in queue.text
    detail = browser.get(f"/ig/overrides/{override_id}").text
    assert REASON in html.unescape(detail) and f"/ig/disclosures/{disclosure_id}" in detail
    assert "Record the review" not in detail  # an auditor sees, an admin decides
    disclosure = browser.get(f"/ig/disclosures/{disclosure_id}").text
    assert "safeguarding" in disclosure and "Declined" in disclosure and "IG review" in disclosure
    assert "Lawful basis" in disclosure and "process-minimum" in disclosure and "DPA 2018 Sch 1 para 18" in disclosure


def test_an_admin_raises_a_concern_with_a_note_kept_encrypted(gateway, staff, browser):
    override_id, _ = _relied_on_override(gateway)
    browser.sign_in("admin")
    token = browser.csrf(f"/ig/overrides/{override_id}")
    missing = browser.post(f"/ig/overrides/{override_id}/review", data={"csrf_token": token, "decision": "concern"})
    assert missing.status_code == 400 and "Say what the concern is" in missing.text
    done = browser.post(
        f"/ig/overrides/{override_id}/review", data={"csrf_token": token, "decision": "concern", "note": NOTE}
    )
    assert done.status_code == 303
    assert "Awaiting review (0)" in browser.get("/ig/overrides").text
    assert NOTE in browser.get(f"/ig/overrides/{override_id}").text
    again = browser.post(
        f"/ig/overrides/{override_id}/review", data={"csrf_token": token, "decision": "approved", "note": ""}
    )
    assert again.status_code == 409
    with gateway.sessions() as session:
        (review,) = session.query(OverrideReview).all()
        assert review.decision == "concern" and NOTE.encode() not in (review.note_ciphertext or b"")
    (event,) = staff_events(gateway, "ig:override:reviewed")
    assert event["reason"] == f"override:{override_id}:concern" and NOTE not in str(event)


def test_an_auditor_cannot_review(gateway, staff, browser):
    override_id, _ = _relied_on_override(gateway)
    browser.sign_in("auditor")
    token = browser.csrf("/ig/overrides")
    refused = browser.post(f"/ig/overrides/{override_id}/review", data={"csrf_token": token, "decision": "approved"})
    assert refused.status_code == 403
    assert "Awaiting review (1)" in StaffBrowser.get(browser, "/ig/overrides").text
