"""Assessment notifications: amended after disclosure, consent withdrawn, every access told to the
publisher, and the per-assessment "who saw what" view. Captured through webhook deliveries (the durable
side of the same notifications)."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime

from sqlalchemy import select

from gateway.court_requests.webhooks import add_subscription
from gateway.db.models import WebhookDelivery
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM
from tests.factories import example

ADULT_NHS = "9449305552"


def hooks(gateway, *agencies: str) -> None:
    with gateway.sessions.begin() as session:
        for code in agencies:
            add_subscription(session, gateway.keyring, code, f"http://127.0.0.1:9/{code}", datetime.now(UTC))


def sent(gateway) -> list[tuple[str, str, dict]]:
    """(agency code of the endpoint, event type, body) of every delivery so far."""
    from gateway.db.models import Agency, WebhookSubscription

    with gateway.sessions() as session:
        rows = session.execute(
            select(Agency.code, WebhookDelivery.event_type, WebhookDelivery.body)
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .join(Agency, Agency.id == WebhookSubscription.agency_id)
            .order_by(WebhookDelivery.created_at)
        ).all()
    return [(code, kind, json.loads(body)) for code, kind, body in rows]


def court_pull(gateway):
    response = gateway.http.get(
        "/fhir/Bundle",
        params={"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{ADULT_NHS}"},
        auth=gateway.auth("MC-NE", "case-management"),
    )
    assert response.status_code == 200, response.text
    return response


def republish(gateway, **consent):
    document = copy.deepcopy(example("adult.json"))
    document["consent"].update(consent)
    # An identical republish makes no new version (issue 9): each republish here is an amendment.
    document["engagement"] = f"Amended {uuid.uuid4()}"
    response = gateway.http.post("/assessments", json=document, auth=gateway.auth("LD-NE", "ld-service"))
    assert response.status_code == 201, response.text
    return response.json()


def test_every_access_is_told_to_the_publisher_without_personal_data(gateway):
    hooks(gateway, "LD-NE", "MC-NE")
    response = court_pull(gateway)
    [(code, kind, body)] = sent(gateway)
    assert (code, kind) == ("LD-NE", "assessment.accessed")
    assert body["data"]["agency"] == "MC-NE" and body["data"]["purpose"] == "case-management"
    assert body["data"]["disclosure"] == response.headers["X-Disclosure-Id"]
    assert ADULT_NHS not in json.dumps(body) and "Hewitt" not in json.dumps(body)


def test_a_refused_pull_tells_nobody(gateway):
    hooks(gateway, "LD-NE")
    refused = gateway.http.get(
        "/fhir/Bundle",
        params={"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{ADULT_NHS}"},
        auth=gateway.auth("MHT-NE", "health-referral"),
    )
    assert refused.status_code == 404
    assert sent(gateway) == []


def test_earlier_recipients_are_told_of_a_newer_version_and_of_withdrawn_consent(gateway):
    hooks(gateway, "MC-NE", "PROB-NE")
    court_pull(gateway)  # the court was given version 1; probation never pulled
    version = republish(gateway)["version"]
    assert [(c, k) for c, k, _ in sent(gateway)] == [("MC-NE", "assessment.amended")]
    assert sent(gateway)[0][2]["data"]["version"] == version
    republish(gateway, status="withdrawn", recorded_at="2026-11-25T09:00:00Z")
    kinds = [(c, k) for c, k, _ in sent(gateway)]
    assert kinds[1:] == [("MC-NE", "assessment.amended"), ("MC-NE", "consent.withdrawn")]


def test_the_first_version_tells_nobody(gateway):
    hooks(gateway, "MC-NE")
    republish(gateway)  # version 2, but nobody has been given anything yet
    assert sent(gateway) == []


def test_who_saw_what_is_for_the_publisher_only(gateway):
    court_pull(gateway)
    assessment_id = gateway.published.assessment_id
    mine = gateway.http.get(f"/assessments/{assessment_id}/disclosures", auth=gateway.auth("LD-NE", "ld-service"))
    assert mine.status_code == 200, mine.text
    [seen] = mine.json()["disclosures"]
    assert seen["agency_code"] == "MC-NE" and seen["outcome"] == "released" and seen["version"] == 1
    assert seen["released"] and isinstance(seen["withheld_count"], int)
    assert ADULT_NHS not in mine.text
    court = gateway.http.get(f"/assessments/{assessment_id}/disclosures", auth=gateway.auth("MC-NE", "case-management"))
    assert court.status_code == 403
    unknown = gateway.http.get("/assessments/nope/disclosures", auth=gateway.auth("LD-NE", "ld-service"))
    assert unknown.status_code == 404
