"""Lawful overrides end to end: recorded over HTTP by the L&D service, relied on by the policy, flagged
for IG review in the disclosure log; consent withdrawn by republishing. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from gateway.audit import log
from gateway.audit.verify import verify_rows
from gateway.db.models import DisclosureLogEntry, LawfulOverride
from gateway.overrides.store import read_reason
from tests.factories import example, publish

NHS = "9449305552"
SEARCH = f"/fhir/Bundle?patient.identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}"
REASON = "Disclosed exploitation risk; police need it tonight."


def entries(gateway) -> list[dict]:
    with gateway.sessions() as session:
        rows = session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)).scalars()
        return [json.loads(r) for r in rows]


def republish(gateway, **consent) -> None:
    document = example("adult.json")
    document["consent"] = {**document["consent"], **consent}
    publish(gateway.sessions, gateway.keyring, document)


def pull(gateway, agency: str, purpose: str) -> tuple[int, bytes, dict]:
    response = gateway.http.get(SEARCH, auth=gateway.auth(agency, purpose))
    (disclosure_id,) = response.headers["x-disclosure-id"].split(",")
    (entry,) = [e for e in entries(gateway) if e["disclosure_id"] == disclosure_id]
    return response.status_code, response.content, entry


def override_body(**changes) -> dict:
    return {
        "basis": "safeguarding",
        "reason": REASON,
        "recipients": ["POL-NE"],
        "expires_at": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
        "recorded_by": "Sam Okafor, L&D practitioner",
        **changes,
    }


def record(gateway, body: dict, agency: str = "LD-NE", purpose: str = "ld-service", assessment_id: str | None = None):
    target = assessment_id or gateway.published.assessment_id
    return gateway.http.post(f"/assessments/{target}/overrides", json=body, auth=gateway.auth(agency, purpose))


def test_override_flow_releases_the_minimised_set_to_named_recipients_and_flags_it(gateway):
    republish(gateway, status="declined")
    risk = example("adult.json")["risk"]["assessment"]

    status, body, before = pull(gateway, "POL-NE", "charging")
    assert status == 200
    assert "risk.assessment" not in before["released"]
    assert risk["summary"].encode() not in body
    assert (before["consent_status"], before["overrides"], before["ig_review"]) == ("declined", [], False)

    response = record(gateway, override_body())
    assert response.status_code == 201, response.text
    override_id = response.json()["id"]
    assert response.json()["recipients"] == ["POL-NE"]

    status, body, after = pull(gateway, "POL-NE", "charging")
    assert status == 200
    assert {"risk.assessment", "risk.safeguarding", "vulnerability.summary"} <= set(after["released"])
    assert "diversion.suitability" not in after["released"]
    assert {w["field"]: w["rule"] for w in after["withheld"]}["diversion.suitability"] == "override-minimised"
    assert after["overrides"] == [{"id": override_id, "basis": "safeguarding"}]
    assert after["ig_review"] is True
    assert after["consent_status"] == "declined"
    assert risk["summary"].encode() in body, "the released risk summary is rendered"

    # The court is not a recipient: nothing more for it, nothing flagged.
    status, _, court = pull(gateway, "MC-NE", "case-management")
    assert status == 200 and court["overrides"] == [] and court["ig_review"] is False
    assert "risk.assessment" not in court["released"]

    recorded = [e for e in entries(gateway) if e["event"] == "ingest:override:recorded"]
    assert len(recorded) == 1
    assert recorded[0]["overrides"] == [{"id": override_id, "basis": "safeguarding"}]
    assert recorded[0]["client_id"] == gateway.clients["LD-NE"]
    assert REASON not in json.dumps(entries(gateway)), "the reason stays out of the log"
    with gateway.sessions() as session:
        row = session.get(LawfulOverride, override_id)
        assert row is not None and REASON.encode() not in (row.reason_ciphertext or b"")
        assert read_reason(session, gateway.keyring, override_id) == REASON
        assert verify_rows(log.iter_rows(session), log.read_head(session)).ok


def test_an_override_is_not_relied_on_while_consent_covers_the_disclosure(gateway):
    assert record(gateway, override_body()).status_code == 201

    status, _, entry = pull(gateway, "POL-NE", "charging")

    assert status == 200 and entry["ig_review"] is False and entry["overrides"] == []
    assert entry["consent_status"] == "given"


def test_only_an_ld_service_may_record_an_override(gateway):
    response = record(gateway, override_body(), agency="POL-NE", purpose="charging")

    assert response.status_code == 403
    with gateway.sessions() as session:
        assert session.execute(select(LawfulOverride)).first() is None


def test_an_unknown_assessment_is_404_and_the_refusal_is_logged_without_the_callers_text(gateway):
    before = len(entries(gateway))
    response = record(gateway, override_body(), assessment_id="Jane-Doe-1970-01-01")

    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"
    (refusal,) = entries(gateway)[before:]
    assert (refusal["event"], refusal["outcome"], refusal["reason"]) == (
        "ingest:override:denied",
        "denied",
        "no-assessment",
    )
    assert refusal["agency_code"] == "LD-NE"
    # The path is the caller's text: the log keeps for good what it is given, so only ids it issued go in.
    assert "Jane" not in json.dumps(refusal)
    assert refusal.get("assessment_id") is None and refusal.get("subject_key") is None
    with gateway.sessions() as session:
        assert session.execute(select(LawfulOverride)).first() is None


def test_a_bad_override_gets_422_listing_every_problem_and_only_the_refusal_is_written(gateway):
    before = len(entries(gateway))
    response = record(gateway, {"basis": "curiosity", "recipients": ["NOPE"], "expires_at": "soon"})

    assert response.status_code == 422
    outcome = response.json()
    where = [issue["expression"][0] for issue in outcome["issue"]]
    assert where == ["reason", "recorded_by", "basis", "recipients[0]", "expires_at"]
    # Nothing of the override; the refusal alone is logged, under the person (the service's own assessment).
    (refusal,) = entries(gateway)[before:]
    assert (refusal["event"], refusal["outcome"], refusal["reason"]) == (
        "ingest:override:denied",
        "denied",
        "override-invalid",
    )
    assert refusal["assessment_id"] == gateway.published.assessment_id
    assert refusal["subject_key"] and "curiosity" not in json.dumps(refusal)
    with gateway.sessions() as session:
        assert session.execute(select(LawfulOverride)).first() is None


def test_consent_withdrawn_by_republishing_stops_consent_based_disclosure(gateway):
    status, _, given = pull(gateway, "PROB-NE", "sentencing")
    assert status == 200 and "clinical.diagnoses" in given["released"]

    republish(gateway, status="withdrawn", recorded_at="2026-11-26T09:00:00Z")

    status, _, withdrawn = pull(gateway, "PROB-NE", "sentencing")
    assert status == 200
    assert "clinical.diagnoses" not in withdrawn["released"]
    assert set(withdrawn["released"]) < set(given["released"])
    rules = {w["field"]: w["rule"] for w in withdrawn["withheld"]}
    assert rules["referrals.made"] == "consent-withdrawn-minimum"
    assert withdrawn["consent_status"] == "withdrawn"
    assert given in entries(gateway), "the earlier disclosure stays in the log"


def test_the_decision_cache_never_serves_a_stale_consent_or_override(gateway):
    from gateway.policy.cache import CachingEngine

    service = gateway.app.state.gateway.disclosures
    cache = CachingEngine(service._engine)
    service._engine = cache  # the same path, with the cache the app uses by default in front

    assert "clinical.diagnoses" in pull(gateway, "PROB-NE", "sentencing")[2]["released"]
    assert "clinical.diagnoses" in pull(gateway, "PROB-NE", "sentencing")[2]["released"]
    assert cache.hits >= 1
    republish(gateway, status="declined")
    assert "clinical.diagnoses" not in pull(gateway, "PROB-NE", "sentencing")[2]["released"]
    assert "risk.assessment" not in pull(gateway, "POL-NE", "charging")[2]["released"]
    assert record(gateway, override_body()).status_code == 201
    flagged = pull(gateway, "POL-NE", "charging")[2]
    assert "risk.assessment" in flagged["released"] and flagged["ig_review"] is True


def test_another_services_refused_override_is_not_shown_to_the_owning_service(gateway):
    # LD-NW tries LD-NE's assessment: 404, as for an unknown id. The refusal is logged, but names neither
    # the assessment nor the person, so LD-NE's view of the log does not learn that LD-NW tried it.
    from gateway.auth import registry
    from tests.security.test_provenance import SECOND

    with gateway.sessions.begin() as session:
        for code, type_, purposes in SECOND:
            registry.add_agency(session, code, f"Agency {code}", type_)
            gateway.clients[code] = registry.add_client(session, code, list(purposes), jwks=gateway.key.jwks).client_id
    before = len(entries(gateway))
    response = record(gateway, override_body(), agency="LD-NW")

    assert response.status_code == 404
    (refusal,) = entries(gateway)[before:]
    assert (refusal["event"], refusal["agency_code"], refusal["reason"]) == (
        "ingest:override:denied",
        "LD-NW",
        "no-assessment",
    )
    assert refusal.get("assessment_id") is None and refusal.get("subject_key") is None
    # Before the fix the entry named LD-NE's assessment, and this view (scoped by assessment) showed it.
    view = gateway.http.get("/audit/disclosures", params={"limit": 500}, auth=gateway.auth("LD-NE", "ld-service"))
    assert view.status_code == 200
    assert [item for item in view.json()["items"] if item.get("agency_code") == "LD-NW"] == []
