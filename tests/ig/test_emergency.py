"""Emergency sharing end to end (ICO data sharing code: risk to life): an L&D clinician records it over
HTTP against a declined consent; the named recipients get only identity, communication needs, risk and
safeguarding, with the emergency and its statute, expiry and keyed commitments to its author and
reason in the hashed log entry; a recipient not named gets nothing more; it ends at 72 hours
(the disclosure clock moved past it) and a longer one is refused; IG staff see it and every disclosure
that relied on it for review."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime, timedelta

from gateway.audit import log
from gateway.audit.verify import verify_rows
from gateway.overrides.store import entry_matches_override
from tests.factories import example, publish
from tests.fixtures import ROOT
from tests.overrides.test_override_flow import entries, override_body, pull, record

REASON = "Said tonight he will end his life; police and the crisis team must know his risk now."
GATEWAY_DATA = json.loads((ROOT / "policies" / "data.json").read_text())["gateway"]
EMERGENCY_FIELDS = {"risk.assessment", "risk.safeguarding"}  # beyond what the minimum already gives


def recorded_commitments(gateway) -> dict:
    (recorded,) = [e for e in entries(gateway) if e["event"] == "ingest:override:recorded"]
    return recorded["lawful_basis"][0]


def _declined_with_a_health_link(gateway) -> None:
    document = example("adult.json")
    document["consent"] = {**document["consent"], "status": "declined"}
    document["case_links"] = [*document["case_links"], {"agency_code": "MHT-NE", "case_reference": "MHT-77120"}]
    publish(gateway.sessions, gateway.keyring, document)


def test_emergency_sharing_end_to_end_with_its_ig_review(gateway, staff, browser):
    _declined_with_a_health_link(gateway)
    now = datetime.now(UTC)
    assert pull(gateway, "MHT-NE", "health-referral")[0] == 403, "declined: no referral against his wishes"

    too_long = record(
        gateway, override_body(basis="emergency", expires_at=(now + timedelta(hours=72, minutes=5)).isoformat())
    )
    assert too_long.status_code == 422 and "72 hours" in too_long.text
    expires = now + timedelta(hours=71, minutes=59)
    body = override_body(
        basis="emergency", reason=REASON, recipients=["POL-NE", "MHT-NE"], expires_at=expires.isoformat()
    )
    recorded = record(gateway, body)
    assert recorded.status_code == 201, recorded.text
    emergency_id = recorded.json()["id"]
    emergency = {
        "basis": "emergency",
        "statute": GATEWAY_DATA["lawful_bases"]["emergency"]["statute"],
        "override_id": emergency_id,
        "expires_at": datetime.fromisoformat(body["expires_at"]).astimezone(UTC).isoformat(),
        **{key: recorded_commitments(gateway)[key] for key in ("recorded_by_hmac", "reason_hmac")},
    }
    with gateway.sessions() as session:
        assert entry_matches_override(session, gateway.keyring, emergency), "the log commits to author and reason"

    # Police: the custody minimum plus risk and safeguarding, nothing else, flagged for IG review.
    status, police_body, police = pull(gateway, "POL-NE", "charging")
    assert status == 200
    assert set(police["released"]) == set(GATEWAY_DATA["minimum_without_consent"]["charging"]["police"]) | (
        EMERGENCY_FIELDS
    )
    withheld = {w["field"]: w["rule"] for w in police["withheld"]}
    assert withheld["vulnerability.summary"] == withheld["diversion.suitability"] == "emergency-minimised"
    assert police["overrides"] == [{"id": emergency_id, "basis": "emergency"}] and police["ig_review"] is True
    process_minimum = {
        "basis": "process-minimum",
        "statute": GATEWAY_DATA["lawful_bases"]["process-minimum"]["statute"],
    }
    assert police["lawful_basis"] == [process_minimum, emergency]
    assert example("adult.json")["risk"]["assessment"]["summary"].encode() in police_body

    # Health, whatever the consent: identity, communication needs, risk and safeguarding only.
    status, _, health = pull(gateway, "MHT-NE", "health-referral")
    assert status == 200
    assert set(health["released"]) == {
        "identity.name",
        "identity.date_of_birth",
        "identity.nhs_number",
        "needs.communication",
        *EMERGENCY_FIELDS,
    }
    assert health["lawful_basis"] == [emergency] and health["ig_review"] is True

    # The court is not named: its minimum, on the process minimum's basis alone.
    status, _, court = pull(gateway, "MC-NE", "case-management")
    assert status == 200 and court["ig_review"] is False and court["lawful_basis"] == [process_minimum]
    assert not EMERGENCY_FIELDS & set(court["released"])

    # After its expiry the emergency has no effect.
    gateway.app.state.gateway.disclosures._clock = lambda: expires + timedelta(seconds=1)
    status, _, later = pull(gateway, "POL-NE", "charging")
    assert status == 200 and not EMERGENCY_FIELDS & set(later["released"])
    assert later["overrides"] == [] and later["ig_review"] is False and later["lawful_basis"] == [process_minimum]
    assert pull(gateway, "MHT-NE", "health-referral")[0] == 403

    # IG review: the emergency waits in the queue with its reason and the disclosures that relied on it.
    browser.sign_in("auditor")
    queue = html.unescape(browser.get("/ig/overrides").text)
    assert f"/ig/overrides/{emergency_id}" in queue and "Emergency" in queue
    detail = html.unescape(browser.get(f"/ig/overrides/{emergency_id}").text)
    assert REASON in detail and "Emergency: risk to life" in detail
    for relied_on in (police, health):
        assert f"/ig/disclosures/{relied_on['disclosure_id']}" in detail
    assert f"/ig/disclosures/{later['disclosure_id']}" not in detail
    page = html.unescape(browser.get(f"/ig/disclosures/{police['disclosure_id']}").text)
    assert "Needs IG review" in page and "emergency" in page and emergency["statute"] in page

    assert REASON not in json.dumps(entries(gateway)), "the reason stays out of the log: only a keyed commitment"
    assert body["recorded_by"] not in json.dumps(entries(gateway)), "nor the practitioner's name"
    with gateway.sessions() as session:
        assert verify_rows(log.iter_rows(session), log.read_head(session)).ok
