"""The override review queue over HTTP: an override recorded by the L&D service and relied on by a
disclosure waits for review; an admin approves it or raises a concern with a note; auditors cannot."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.assessments.store import shred_subject
from gateway.db.models import Assessment, DisclosureLogEntry, LawfulOverride, OverrideReview
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


def _commitments(browser, override_id: str, disclosure_id: str) -> tuple[str, str]:
    """What the review page says of the recording entry's commitments and of the disclosure's."""
    page = browser.get(f"/ig/overrides/{override_id}")
    assert page.status_code == 200

    def words(after: str, end: str) -> str:
        shown = page.text.split(after, 1)[1].split(end, 1)[0]
        return " ".join(html.unescape(re.sub(r"<[^>]+>", "", shown)).split())

    return words('id="recorded-commitment">', "</dd>"), words(f'data-commitment="{disclosure_id}">', "</td>")


def test_the_review_page_checks_each_log_entrys_commitments_against_the_override(gateway, staff, browser):
    """The review page showed the override as stored today and the disclosures that relied on it, but not
    whether the log's commitments (author, reason, expiry) are to that override: a reason or author
    changed after the disclosures would have been reviewed as if it were what they relied on."""
    override_id, disclosure_id = _relied_on_override(gateway)
    browser.sign_in("auditor")
    recorded, relied = _commitments(browser, override_id, disclosure_id)
    assert recorded.startswith("Match: the entry commits") and recorded.endswith("(entry)")
    assert relied.startswith("Match: the entry commits")

    # The stored author changed after the fact: neither entry commits to it.
    with gateway.sessions.begin() as session:
        row = session.get(LawfulOverride, override_id)
        author, row.recorded_by = row.recorded_by, "Someone Else"
    assert [c.split(":")[0] for c in _commitments(browser, override_id, disclosure_id)] == ["Mismatch", "Mismatch"]
    with gateway.sessions.begin() as session:
        session.get(LawfulOverride, override_id).recorded_by = author

    # The disclosure's entry tampered with (its reason commitment): that entry alone mismatches.
    with gateway.sessions.begin() as session:
        entry = session.execute(
            select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
        ).scalar_one()
        (item,) = [b for b in json.loads(entry.entry)["lawful_basis"] if b.get("override_id") == override_id]
        entry.entry = entry.entry.replace(item["reason_hmac"], "0" * 64)
    recorded, relied = _commitments(browser, override_id, disclosure_id)
    assert recorded.startswith("Match:") and relied.startswith("Mismatch: the entry does not commit")

    # The stored reason removed while the person's key is still there: tampering, not an erasure.
    with gateway.sessions.begin() as session:
        row = session.get(LawfulOverride, override_id)
        ciphertext, row.reason_ciphertext = row.reason_ciphertext, None
    assert [c.split(":")[0] for c in _commitments(browser, override_id, disclosure_id)] == ["Mismatch", "Mismatch"]
    detail = html.unescape(browser.get(f"/ig/overrides/{override_id}").text)
    assert "has been erased" not in detail and "Missing: no reason is stored" in re.sub(r"<[^>]+>", "", detail)
    with gateway.sessions.begin() as session:
        session.get(LawfulOverride, override_id).reason_ciphertext = ciphertext

    # The person erased: nothing is left to compare with.
    with gateway.sessions.begin() as session:
        subject_id = session.get(Assessment, session.get(LawfulOverride, override_id).assessment_id).subject_id
        shred_subject(session, subject_id, datetime.now(UTC))
    recorded, relied = _commitments(browser, override_id, disclosure_id)
    assert recorded.startswith("Override erased: cannot be checked") and relied.startswith("Override erased:")
    # The reason went with the person's key; the practitioner (staff data, docs/decisions.md) stays named.
    detail = html.unescape(browser.get(f"/ig/overrides/{override_id}").text)
    assert REASON not in detail and "Not available (the person's data has been erased)" in detail
    assert f"{override_body()['recorded_by']}, " in detail
