"""The FHIR AuditEvent export (IHE BALP shapes), event type by event type, each validated by fhir.resources
R4B; the CSV export carrying the same columns."""

from __future__ import annotations

import csv
import dataclasses
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as FhirAuditEvent

from gateway.audit import balp, export
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.queries import DisclosureRecord

SERVER = "https://gateway.example.nhs.uk"
SUBJECT_KEY = "ab" * 32
PROFILE = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit."
REST = "http://hl7.org/fhir/restful-interaction"
DCM = "http://dicom.nema.org/resources/ontology/DCM"

#: The outcome each event is logged with (as the producers in gateway/ write them).
OUTCOMES: dict[AuditEvent, Outcome] = {
    AuditEvent.BUNDLE_RELEASED: Outcome.RELEASED,
    AuditEvent.PUBLISH_ACCEPTED: Outcome.ACCEPTED,
    AuditEvent.PUBLISH_IMPORTED: Outcome.ACCEPTED,
    AuditEvent.OVERRIDE_RECORDED: Outcome.RECORDED,
    AuditEvent.TASK_CREATED: Outcome.RECORDED,
    AuditEvent.TASK_ACCEPTED: Outcome.RECORDED,
    AuditEvent.TASK_REJECTED: Outcome.RECORDED,
    AuditEvent.TASK_COMPLETED: Outcome.RECORDED,
    AuditEvent.POLICY_ACTIVATED: Outcome.ACTIVATED,
    AuditEvent.SUBJECT_ERASED: Outcome.ERASED,
}
DENIALS = {
    AuditEvent.BUNDLE_DENIED,
    AuditEvent.TOKEN_DENIED,
    AuditEvent.PUBLISH_DENIED,
    AuditEvent.AUDIT_DENIED,
    AuditEvent.TASK_DENIED,
    AuditEvent.EVENTS_DENIED,
    AuditEvent.IG_SIGNIN_FAILED,
    AuditEvent.IG_LOCKED,
    AuditEvent.IG_REFUSED,
}


def record(event: AuditEvent | str, outcome: str | None = None, **changes: Any) -> DisclosureRecord:
    if outcome is None:
        outcome = Outcome.DENIED if event in DENIALS else OUTCOMES.get(AuditEvent(event), Outcome.DONE)
    values: dict[str, Any] = {
        "seq": 7,
        "leaf_hash": "cd" * 32,
        "disclosure_id": "5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10",
        "event": str(event),
        "outcome": str(outcome),
        "created_at": datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
        "client_id": "c0ffee00c0ffee00",
        "agency_code": "POL-NE",
        "agency_type": "police",
        "purpose": "charging",
        "subject_key": SUBJECT_KEY,
        "assessment_id": "a1",
        "assessment_version": 2,
        "released": ["identity.name", "risk.assessment"],
        "withheld": [{"field": "clinical.diagnoses", "rule": "stage-charging", "reason": "not needed"}],
        "policy_revision": "sha256:" + "0" * 64,
        "decision_id": "d1",
        "body_sha256": "ef" * 32,
        "reason": "no-case-link" if outcome == Outcome.DENIED else None,
        "consent_status": "given",
        "overrides": [],
        "entry": {},
    }
    values.update(changes)
    return DisclosureRecord(**values)


def render(r: DisclosureRecord) -> tuple[dict[str, Any], FhirAuditEvent]:
    event = balp.audit_event(r, server=SERVER)
    return event, FhirAuditEvent.model_validate(event)


def codes(codings: list[dict[str, str]], system: str) -> list[str]:
    return [c["code"] for c in codings if c["system"] == system]


@pytest.mark.parametrize("event", list(AuditEvent), ids=str)
def test_every_event_type_has_its_own_shape_and_is_a_valid_r4b_audit_event(event):
    assert event in balp.SHAPES
    rendered, model = render(record(event))
    assert model.id == rendered["id"]
    # The local event name is always there, so nothing the log says is lost in translation.
    assert codes(rendered["subtype"], balp.EVENT_SYSTEM) == [str(event)]
    expected = "0" if event not in DENIALS else "4"
    assert rendered["outcome"] == expected
    assert rendered["action"] in {"C", "R", "U", "D", "E"}
    # Only a document released is a read; nothing else is a failed (or any) read.
    if event not in (AuditEvent.BUNDLE_RELEASED, AuditEvent.BUNDLE_DENIED):
        assert "read" not in codes(rendered["subtype"], REST)
    # A profile is claimed only by a success.
    if rendered.get("meta"):
        assert expected == "0"


def test_a_released_document_is_a_patient_read_with_every_element_the_profile_requires():
    r = record(AuditEvent.BUNDLE_RELEASED, entry={"network": "192.0.2.10", "interaction": "read"})
    event, model = render(r)
    assert event["meta"]["profile"] == [PROFILE + "PatientRead"]
    assert (event["type"]["code"], codes(event["subtype"], REST), event["action"], event["outcome"]) == (
        "rest",
        ["read"],
        "R",
        "0",
    )
    server, client = event["agent"]
    # BALP Read: the server is the Source Role ID, the client (the requestor) the Destination Role ID.
    assert codes(server["type"]["coding"], DCM) == ["110153"] and server["requestor"] is False
    assert codes(client["type"]["coding"], DCM) == ["110152"] and client["requestor"] is True
    assert server["network"] == {"address": "gateway.example.nhs.uk", "type": "1"}
    assert client["network"] == {"address": "192.0.2.10", "type": "2"}
    assert codes(client["purposeOfUse"][0]["coding"], balp.ACT_REASON) == ["HLEGAL"]
    assert codes(client["purposeOfUse"][0]["coding"], balp.PURPOSE_SYSTEM) == ["charging"]
    patient, document = event["entity"]
    assert (patient["type"]["code"], patient["role"]["code"], patient["what"]["type"]) == ("1", "1", "Patient")
    assert patient["what"]["identifier"]["value"] == SUBJECT_KEY
    detail = {d["type"]: d["valueString"] for d in document["detail"]}
    assert detail["released"] == "identity.name risk.assessment"
    assert detail["withheld:clinical.diagnoses"] == "stage-charging: not needed"
    assert detail["consent-status"] == "given"
    assert model.outcome == "0"


def test_an_entry_that_recorded_no_network_claims_no_profile():
    event, _ = render(record(AuditEvent.BUNDLE_RELEASED))
    assert "meta" not in event and "network" not in event["agent"][1]


def test_a_document_found_by_search_is_a_read_that_says_it_came_from_a_search():
    event, _ = render(record(AuditEvent.BUNDLE_RELEASED, entry={"network": "192.0.2.10", "interaction": "search"}))
    assert codes(event["subtype"], REST) == ["read", "search-type"] and event["action"] == "R"
    assert event["meta"]["profile"] == [PROFILE + "PatientRead"]


def test_refusals_are_minor_or_serious_failures_and_claim_no_profile():
    refused, _ = render(record(AuditEvent.BUNDLE_DENIED, entry={"network": "192.0.2.10", "interaction": "read"}))
    assert (refused["outcome"], refused["outcomeDesc"], "meta" in refused) == ("4", "no-case-link", False)
    assert refused["action"] == "R"
    failed, _ = render(record(AuditEvent.BUNDLE_DENIED, reason="internal-error", entry={"network": "192.0.2.10"}))
    assert failed["outcome"] == "8" and "meta" not in failed
    policy, _ = render(record(AuditEvent.BUNDLE_DENIED, reason="policy-undefined"))
    assert policy["outcome"] == "8"
    # A search refused before any document: a Query (client as Source Role ID), not a failed read.
    search, _ = render(
        record(AuditEvent.BUNDLE_DENIED, reason="unknown-subject", assessment_id=None, released=[], withheld=[])
    )
    assert (codes(search["subtype"], REST), search["action"], search["outcome"]) == (["search-type"], "E", "4")
    server, client = search["agent"]
    assert codes(client["type"]["coding"], DCM) == ["110153"] and codes(server["type"]["coding"], DCM) == ["110152"]
    assert [e["role"]["code"] for e in search["entity"]] == ["1", "24"] and "meta" not in search


def test_publishes_overrides_tasks_and_staff_actions_are_their_own_event_types():
    network = {"network": "192.0.2.20"}
    first, _ = render(record(AuditEvent.PUBLISH_ACCEPTED, assessment_version=1, entry=network))
    assert (codes(first["subtype"], REST), first["action"], first["outcome"]) == (["create"], "C", "0")
    assert first["meta"]["profile"] == [PROFILE + "PatientCreate"]
    client = first["agent"][1]
    assert codes(client["type"]["coding"], DCM) == ["110153"]  # Create: the client is the Source Role ID
    second, _ = render(record(AuditEvent.PUBLISH_ACCEPTED, assessment_version=2, entry=network))
    assert (codes(second["subtype"], REST), second["action"]) == (["update"], "U")
    assert second["meta"]["profile"] == [PROFILE + "PatientUpdate"]
    warned, _ = render(record(AuditEvent.PUBLISH_ACCEPTED, entry={"diagnostic_term_warnings": 2}))
    assert {"type": "diagnostic-term-warnings", "valueString": "2"} in warned["entity"][1]["detail"]

    override = record(
        AuditEvent.OVERRIDE_RECORDED,
        overrides=[{"id": "0f0f0f0f-0000-4000-8000-000000000001", "basis": "safeguarding"}],
        ig_review=True,
        entry={"lawful_basis": {"basis": "safeguarding", "statute": "DPA 2018 Sch 1 para 18"}},
    )
    event, _ = render(override)
    assert (codes(event["subtype"], REST), event["action"], event["outcome"]) == (["create"], "C", "0")
    data = event["entity"][1]
    assert data["what"]["identifier"]["value"] == "0f0f0f0f-0000-4000-8000-000000000001"
    detail = {d["type"]: d["valueString"] for d in data["detail"]}
    assert detail["override:0f0f0f0f-0000-4000-8000-000000000001"] == "safeguarding"
    assert detail["lawful-basis"] == "basis=safeguarding statute=DPA 2018 Sch 1 para 18"
    assert detail["ig-review"] == "required"

    task, _ = render(record(AuditEvent.TASK_ACCEPTED, decision_id="t1"))
    assert (codes(task["subtype"], REST), task["action"], task["entity"][1]["what"]) == (
        ["update"],
        "U",
        {"reference": "Task/t1"},
    )
    signin, _ = render(record(AuditEvent.IG_SIGNIN, client_id="staff:s1", agency_code=None, purpose=None))
    assert (signin["type"]["code"], codes(signin["subtype"], DCM)) == ("110114", ["110122"])
    assert signin["agent"][1]["who"]["display"] == "gateway staff" and "purposeOfEvent" not in signin
    view, _ = render(
        record(AuditEvent.IG_VIEW, client_id="staff:s1", reason="disclosure:5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10")
    )
    assert view["type"]["code"] == "110101"  # Audit Log Used


def test_purposes_map_to_hl7_v3_purpose_of_use_beside_the_local_code():
    assert codes(balp.purpose_codings("health-referral"), balp.ACT_REASON) == ["TREAT"]
    for purpose in ("custody", "charging", "case-management", "sentencing"):
        assert codes(balp.purpose_codings(purpose), balp.ACT_REASON) == ["HLEGAL"]
    # No v3 code fits the publishing side: the local code alone.
    assert balp.purpose_codings("ld-service") == [{"system": balp.PURPOSE_SYSTEM, "code": "ld-service"}]


def test_an_event_this_version_does_not_know_is_told_as_application_activity():
    known = record(AuditEvent.IG_SIGNIN)
    event = balp.audit_event(dataclasses.replace(known, event="future:thing:happened"))
    FhirAuditEvent.model_validate(event)
    assert event["type"]["code"] == "110100"


def test_the_csv_carries_the_same_columns():
    r = record(
        AuditEvent.BUNDLE_RELEASED,
        overrides=[{"id": "o1", "basis": "safeguarding"}],
        entry={"lawful_basis": {"basis": "safeguarding"}},
    )
    denied = record(AuditEvent.BUNDLE_DENIED, reason="internal-error", purpose="health-referral")
    rows = list(csv.DictReader(io.StringIO(_csv([r, denied]))))
    assert rows[0]["event"] == "disclosure:bundle:released" and rows[0]["event_type"] == "rest read"
    assert (rows[0]["action"], rows[0]["outcome"], rows[0]["outcome_code"]) == ("R", "released", "0")
    assert (rows[0]["purpose"], rows[0]["purpose_of_use"]) == ("charging", "HLEGAL")
    assert rows[0]["released"] == "identity.name risk.assessment"
    assert rows[0]["withheld"] == "clinical.diagnoses:stage-charging"
    assert (rows[0]["consent_status"], rows[0]["override"], rows[0]["override_basis"]) == (
        "given",
        "true",
        "o1:safeguarding",
    )
    assert rows[0]["lawful_basis"] == "basis=safeguarding"
    several = record(
        AuditEvent.BUNDLE_RELEASED,
        entry={
            "lawful_basis": [{"basis": "consent"}, {"basis": "emergency", "statute": "ICO code", "override_id": "o2"}]
        },
    )
    assert balp.lawful_basis_text(several) == "basis=consent; basis=emergency override_id=o2 statute=ICO code"
    assert (rows[1]["outcome_code"], rows[1]["purpose_of_use"], rows[1]["reason"]) == ("8", "TREAT", "internal-error")


def test_personal_data_in_the_immutable_log_earlier_author_name_and_reason_hash_reach_no_reader():
    """An entry written before keyed commitments named the practitioner and a plain reason hash: neither
    reaches the AuditEvent detail, the CSV or the subject access report (IG reads the override itself)."""
    from gateway.audit.reports import subject_report

    item = {
        "basis": "safeguarding",
        "override_id": "o1",
        "expires_at": "2026-12-07T11:00:00+00:00",
        "recorded_by": "Sam Okafor, L&D practitioner",
        "reason_sha256": "ab" * 32,
        "recorded_by_hmac": "cd" * 32,
    }
    old = record(AuditEvent.BUNDLE_RELEASED, entry={"lawful_basis": [item]})

    text = balp.lawful_basis_text(old)
    assert text == (
        f"basis=safeguarding expires_at=2026-12-07T11:00:00+00:00 override_id=o1 recorded_by_hmac={'cd' * 32}"
    )
    report = subject_report([old], {})
    (shown,) = report["entries"][0]["basis"]["lawful_basis"]
    assert "recorded_by" not in shown and "reason_sha256" not in shown and shown["recorded_by_hmac"] == "cd" * 32
    assert "Sam Okafor" not in _csv([old]) and "ab" * 32 not in _csv([old])


def _csv(records: list[DisclosureRecord]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(export.to_csv_rows(records))
    return buffer.getvalue()
