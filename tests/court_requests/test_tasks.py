"""POST/GET/PATCH /fhir/Task through the whole app, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gateway.court_requests.codes import TASK_OUTPUT_SYSTEM
from gateway.db.models import CaseLink, DisclosureLogEntry, RequestTask
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM
from tests.court_requests.conftest import OTHER_NHS, URN, by_pnc, task_body

PATCH = {"Content-Type": "application/json-patch+json"}


def post(gateway, body, agency="MC-NE", purpose="case-management"):
    return gateway.http.post("/fhir/Task", json=body, auth=gateway.auth(agency, purpose))


def patch(gateway, task_id, ops, agency="LD-NE", purpose="ld-service", **headers):
    return gateway.http.request(
        "PATCH",
        f"/fhir/Task/{task_id}",
        content=json.dumps(ops),
        auth=gateway.auth(agency, purpose),
        headers={**PATCH, **headers},
    )


def pull(gateway, nhs=OTHER_NHS, agency="MC-NE", purpose="case-management"):
    return gateway.http.get(
        "/fhir/Bundle",
        params={"patient.identifier": f"{NHS_NUMBER_SYSTEM}|{nhs}"},
        auth=gateway.auth(agency, purpose),
    )


def complete_ops(assessment_id):
    output = {
        "type": {"coding": [{"system": TASK_OUTPUT_SYSTEM, "code": "assessment"}]},
        "valueReference": {"reference": f"Bundle/{assessment_id}"},
    }
    return [
        {"op": "replace", "path": "/status", "value": "completed"},
        {"op": "add", "path": "/output", "value": [output]},
    ]


def accept_ops():
    return [{"op": "replace", "path": "/status", "value": "accepted"}]


def task_count(gateway) -> int:
    with gateway.sessions() as session:
        return session.execute(select(func.count()).select_from(RequestTask)).scalar_one()


def log_events(gateway) -> list[dict]:
    with gateway.sessions() as session:
        rows = session.execute(select(DisclosureLogEntry).order_by(DisclosureLogEntry.seq)).scalars().all()
        return [json.loads(r.entry) for r in rows]


def test_a_court_request_is_accepted_completed_and_then_pulled(gateway, other):
    assert pull(gateway).status_code == 404  # no case with this person yet

    created = post(gateway, task_body())
    assert created.status_code == 201, created.text
    task = created.json()
    assert task["status"] == "requested"
    assert task["requester"]["identifier"]["value"] == "MC-NE"
    assert task["owner"]["identifier"]["value"] == "LD-NE"
    assert created.headers["Location"].endswith(f"/fhir/Task/{task['id']}")

    queue = gateway.http.get("/fhir/Task?status=requested", auth=gateway.auth("LD-NE", "ld-service")).json()
    assert [e["resource"]["id"] for e in queue["entry"]] == [task["id"]]
    assert queue["entry"][0]["resource"]["for"]["identifier"]["value"] == OTHER_NHS  # the L&D service sees whom

    accepted = patch(gateway, task["id"], accept_ops())
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    with gateway.sessions() as session:
        links = session.execute(select(CaseLink).where(CaseLink.subject_id == other.subject_id)).scalars().all()
        assert len(links) == 2  # the police's and now the court's

    done = patch(gateway, task["id"], complete_ops(other.assessment_id))
    assert done.status_code == 200, done.text
    assert done.json()["output"][0]["valueReference"]["reference"] == f"Bundle/{other.assessment_id}"

    seen = gateway.http.get(f"/fhir/Task/{task['id']}", auth=gateway.auth("MC-NE", "case-management"))
    assert seen.json()["status"] == "completed"
    answer = gateway.http.get(f"/fhir/Bundle/{other.assessment_id}", auth=gateway.auth("MC-NE", "case-management"))
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Disclosure-Id"]

    events = [e["event"] for e in log_events(gateway)]
    for event in (
        "request:task:created",
        "request:task:accepted",
        "request:task:completed",
        "disclosure:bundle:released",
    ):
        assert event in events
    raw = json.dumps(log_events(gateway))
    assert OTHER_NHS not in raw and URN not in raw and "Hewitt" not in raw


def test_a_pnc_id_with_matching_name_and_birth_date_finds_the_person(gateway, other):
    created = post(gateway, task_body(**by_pnc()))
    assert created.status_code == 201, created.text
    assert created.json()["owner"]["identifier"]["value"] == "LD-NE"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (task_body(nhs="9434765919"), "not-found"),  # valid, nobody on record
        (task_body(**by_pnc(born="1992-03-15")), "not-found"),  # PNC ID right, birth date wrong
        (task_body(**by_pnc(family="Smith")), "not-found"),
        (task_body(hearing=datetime.now(UTC) - timedelta(minutes=1)), "business-rule"),
        (task_body(status="accepted"), "value"),
        (task_body(intent="proposal"), "value"),
        (task_body(code={"coding": [{"system": "urn:x", "code": "y"}]}), "code-invalid"),
        (task_body(priority="whenever"), "code-invalid"),
        (task_body(input=[]), "required"),
        (task_body(nhs="9434765910"), "value"),  # bad check digit
        (task_body(owner={"reference": "Organization/x"}), "invalid"),
        (
            task_body(
                requester={
                    "identifier": {"system": "https://ld-gateway.example/fhir/Id/agency-code", "value": "POL-NE"}
                }
            ),
            "forbidden",
        ),
        (task_body(unexpected=True), "structure"),
        ({"resourceType": "Patient"}, "structure"),
        ([1, 2], "structure"),
    ],
)
def test_every_bad_request_is_refused_and_nothing_is_created(gateway, other, body, code):
    response = post(gateway, body)
    assert response.status_code == 422, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert code in [i["code"] for i in outcome["issue"]]
    assert task_count(gateway) == 0
    assert log_events(gateway)[-1]["event"] == "request:task:denied"


def test_an_ambiguous_match_is_refused_as_an_unknown_person(gateway, other):
    """Two people's identifiers answer exactly as nobody's (a distinct answer would confirm both exist)."""
    body = task_body(**by_pnc(pnc="2020/0000009N"))  # the adult example's PNC ID ...
    body["contained"][0]["identifier"].append(
        {"system": NHS_NUMBER_SYSTEM, "value": OTHER_NHS}
    )  # ... and another's NHS no.
    response = post(gateway, body)
    nobody = post(gateway, task_body(nhs="9434765919"))
    assert response.status_code == nobody.status_code == 422
    assert [i["code"] for i in response.json()["issue"]] == ["not-found"]
    assert response.content == nobody.content
    assert task_count(gateway) == 0
    assert log_events(gateway)[-2]["reason"] == "ambiguous-subject"


def test_every_problem_is_listed_at_once(gateway, other):
    body = task_body(
        nhs="123", status="draft", priority="soon", hearing=datetime.now(UTC) - timedelta(days=1), input=[]
    )
    codes = sorted(i["code"] for i in post(gateway, body).json()["issue"])
    assert codes == ["business-rule", "code-invalid", "required", "value", "value"]


def test_an_agency_without_the_right_to_request_is_refused(gateway, other):
    response = post(gateway, task_body(), agency="POL-NE", purpose="charging")
    assert response.status_code == 403
    assert task_count(gateway) == 0
    assert log_events(gateway)[-1]["reason"] == "no-right-to-request"


def test_only_the_parties_see_a_task(gateway, other):
    task = post(gateway, task_body()).json()
    stranger = gateway.auth("PROB-NE", "case-management")
    assert gateway.http.get(f"/fhir/Task/{task['id']}", auth=stranger).status_code == 404
    assert (
        gateway.http.get("/fhir/Task/no-such-id", auth=stranger).json()
        == gateway.http.get(f"/fhir/Task/{task['id']}", auth=stranger).json()
    )
    assert gateway.http.get("/fhir/Task", auth=stranger).json()["total"] == 0
    mine = gateway.http.get("/fhir/Task?status=requested,accepted", auth=gateway.auth("MC-NE", "case-management"))
    assert mine.json()["total"] == 1
    assert (
        gateway.http.get("/fhir/Task?status=accepted", auth=gateway.auth("MC-NE", "case-management")).json()["total"]
        == 0
    )
    assert gateway.http.get("/fhir/Task?status=bogus", auth=stranger).status_code == 400


def test_the_owner_lists_its_candidate_answers_and_an_unknown_task_is_a_logged_404(gateway, other):
    """GET /assessments?task= (the reference client's completion step) answers both of the service's values."""
    task = post(gateway, task_body()).json()
    owner = gateway.auth("LD-NE", "ld-service")
    listed = gateway.http.get("/assessments", params={"task": task["id"]}, auth=owner)
    assert listed.status_code == 200, listed.text
    assert [a["id"] for a in listed.json()["assessments"]] == [other.assessment_id]

    unknown = gateway.http.get("/assessments", params={"task": "no-such-id"}, auth=owner)
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"
    refused = [e for e in log_events(gateway) if e["event"] == "request:task:denied"]
    assert [e["disclosure_id"] for e in refused] == [unknown.headers["X-Disclosure-Id"]]


def test_the_requester_cannot_work_its_own_request(gateway, other):
    task = post(gateway, task_body()).json()
    response = patch(gateway, task["id"], accept_ops(), agency="MC-NE", purpose="case-management")
    assert response.status_code == 403
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    ("ops", "fragment"),
    [
        ([{"op": "replace", "path": "/status", "value": "rejected"}], "statusReason"),
        ([{"op": "replace", "path": "/status", "value": "completed"}], "output"),
        (
            [
                {"op": "replace", "path": "/status", "value": "accepted"},
                {"op": "replace", "path": "/priority", "value": "routine"},
            ],
            "priority",
        ),
        ([{"op": "remove", "path": "/nothing"}], "cannot be applied"),
        ([{"op": "replace", "path": "/status", "value": "requested"}], "must change"),
    ],
)
def test_bad_workflow_changes_are_refused(gateway, other, ops, fragment):
    task = post(gateway, task_body()).json()
    response = patch(gateway, task["id"], ops)
    assert response.status_code in (400, 422), response.text
    assert fragment in json.dumps(response.json())
    assert (
        gateway.http.get(f"/fhir/Task/{task['id']}", auth=gateway.auth("LD-NE", "ld-service")).json()["status"]
        == "requested"
    )


def test_reject_with_a_reason_and_completion_needs_this_persons_assessment(gateway, other):
    task = post(gateway, task_body()).json()
    assert patch(gateway, task["id"], accept_ops()).status_code == 200
    wrong = patch(gateway, task["id"], complete_ops(gateway.published.assessment_id))  # someone else's assessment
    assert wrong.status_code == 422
    assert "this person" in wrong.text
    rejected = patch(
        gateway,
        task["id"],
        [
            {"op": "replace", "path": "/status", "value": "rejected"},
            {"op": "add", "path": "/statusReason", "value": {"text": "Not known to this service"}},
        ],
    )
    assert rejected.status_code == 200, rejected.text
    assert patch(gateway, task["id"], accept_ops()).status_code == 422  # rejected is final


def test_a_stale_if_match_is_refused(gateway, other):
    task = post(gateway, task_body()).json()
    assert patch(gateway, task["id"], accept_ops(), **{"If-Match": 'W/"0"'}).status_code == 200
    assert patch(gateway, task["id"], complete_ops(other.assessment_id), **{"If-Match": 'W/"0"'}).status_code == 412


def test_completion_relinks_a_version_published_after_acceptance(gateway, other):
    """Republishing replaces an assessment's links; completing with that version restores the requester's."""
    from tests.court_requests.conftest import other_person
    from tests.factories import publish

    task = post(gateway, task_body()).json()
    assert patch(gateway, task["id"], accept_ops()).status_code == 200
    assert pull(gateway).status_code == 200
    amended = other_person()
    amended["engagement"] = "Amended after acceptance."  # an identical republish is no new version (issue 9)
    republished = publish(gateway.sessions, gateway.keyring, amended)  # without the court's link
    assert pull(gateway).status_code == 404
    assert patch(gateway, task["id"], complete_ops(republished.assessment_id)).status_code == 200
    assert pull(gateway).status_code == 200


def test_without_a_token_the_refusal_is_logged(gateway):
    response = gateway.http.post("/fhir/Task", json=task_body())
    assert response.status_code == 401
    assert log_events(gateway)[-1]["event"] == "request:task:denied"


def test_stored_tasks_hold_no_personal_data_in_the_clear(gateway, other):
    post(gateway, task_body())
    with gateway.sessions() as session:
        row = session.execute(select(RequestTask)).scalar_one()
        clear = json.dumps(
            {
                c.name: str(getattr(row, c.name))
                for c in RequestTask.__table__.columns
                if c.name != "resource_ciphertext"
            }
        )
        assert OTHER_NHS not in clear and URN not in clear
        assert OTHER_NHS.encode() not in row.resource_ciphertext
