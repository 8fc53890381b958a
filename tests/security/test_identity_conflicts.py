"""Identity conflicts: an identifier joins a publish to a person only when family name and date of birth agree.

The review gateway has LD-NE's adult (Daniel Hewitt, born 1992, NHS 9449305552). A child's record carrying
that NHS number by mistake must be refused (409 ``conflict``, naming elements, never stored values), leave
nothing behind, be logged, and the court linked on the child's record must never receive the adult's. The
same holds through ``POST /fhir/Bundle`` and ``ld-gateway import``, and for a PNC ID in either written form.
Resolving is an administrator's logged decision. Whole app over HTTP, SQLite and PostgreSQL.
"""

from __future__ import annotations

import copy
import csv
import json

import pytest
from sqlalchemy import func, select

from gateway.assessments import store
from gateway.auth import registry
from gateway.db.models import (
    Assessment,
    AssessmentVersion,
    CaseLink,
    DisclosureLogEntry,
    Subject,
    SubjectDemographic,
    SubjectIdentifier,
)
from gateway.fhir import terminology
from gateway.fhir.terminology import NHS_NUMBER_SYSTEM, PNC_ID_SYSTEM
from gateway.ingest.records import accept_identity, detach_identifier
from tests.factories import NOW, example
from tests.fhir.test_inbound import as_document

ADULT = example("adult.json")
CHILD = example("child.json")
ADULT_NHS = ADULT["subject"]["nhs_number"]
UNKNOWN_BUNDLE = "00000000-0000-4000-8000-000000000000"
UNKNOWN_NHS = "9434765919"


@pytest.fixture
def gw(gateway):
    """The review gateway plus a youth court that only the child's record links."""
    with gateway.sessions.begin() as session:
        registry.add_agency(session, "YC-NE", "Agency YC-NE", "court")
        gateway.clients["YC-NE"] = registry.add_client(
            session, "YC-NE", ["case-management", "sentencing"], jwks=gateway.key.jwks
        ).client_id
    return gateway


def child_with_adults_nhs_number() -> dict:
    """The 15-year-old's record, with the adult's NHS number typed in by mistake, linked to the youth court."""
    document = copy.deepcopy(CHILD)
    document["subject"]["nhs_number"] = ADULT_NHS
    document["case_links"] = [{"agency_code": "YC-NE", "case_reference": "3017700131"}]
    return document


def with_youth_court_reference(bundle: dict) -> dict:
    """The rendered document with the youth court's case reference on the Patient: the shared renderer's
    fixture audience does not know YC-NE, so it drops that link (case links go only to a known audience)."""
    patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
    patient.setdefault("identifier", []).append(
        {
            "use": "secondary",
            "type": {"text": "Criminal justice case reference"},
            "system": terminology.case_reference_system("YC-NE"),
            "value": "3017700131",
            "assigner": {
                "identifier": {"system": terminology.AGENCY_CODE_SYSTEM, "value": "YC-NE"},
                "display": "YC-NE",
            },
        }
    )
    return bundle


def stored_state(gw) -> dict:
    """Every table a publish writes, as counts."""
    tables = (Subject, SubjectIdentifier, SubjectDemographic, Assessment, AssessmentVersion, CaseLink)
    with gw.sessions() as session:
        return {t.__tablename__: session.execute(select(func.count()).select_from(t)).scalar_one() for t in tables}


def log_entries(gw) -> list[dict]:
    with gw.sessions() as session:
        rows = session.execute(select(DisclosureLogEntry.entry).order_by(DisclosureLogEntry.seq)).scalars()
        return [json.loads(r) for r in rows]


def assert_conflict(response, elements: set[str]) -> None:
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert {i["code"] for i in body["issue"]} == {"conflict"}
    assert {e for i in body["issue"] for e in i["expression"]} == elements
    # The stored values are another person's data: never in the answer.
    for value in ("Hewitt", "Hewson", "1992-03-14", "Daniel", "X123456"):
        assert value not in response.text


def search(gw, agency: str, purpose: str, system: str, value: str):
    query = {"patient.identifier": f"{system}|{value}"}
    return gw.http.get("/fhir/Bundle", params=query, auth=gw.auth(agency, purpose))


def test_a_child_under_an_adults_nhs_number_is_refused_and_the_court_never_gets_the_adult(gw):
    before, entries_before = stored_state(gw), len(log_entries(gw))
    refused = gw.http.post("/assessments", json=child_with_adults_nhs_number(), auth=gw.auth("LD-NE", "ld-service"))
    assert_conflict(refused, {"subject.date_of_birth", "subject.names"})
    assert stored_state(gw) == before, "a refused publish left something behind"
    (entry,) = log_entries(gw)[entries_before:]
    assert entry["event"] == "ingest:assessment:denied" and entry["reason"] == "identity-conflict"
    assert entry["outcome"] == "denied" and entry["subject_key"] and ADULT_NHS not in json.dumps(entry)

    unknown = gw.http.get(f"/fhir/Bundle/{UNKNOWN_BUNDLE}", auth=gw.auth("YC-NE", "case-management"))
    for purpose in ("case-management", "sentencing"):
        for system, value in (
            (NHS_NUMBER_SYSTEM, ADULT_NHS),
            (PNC_ID_SYSTEM, CHILD["subject"]["pnc_id"]),
            (PNC_ID_SYSTEM, ADULT["subject"]["pnc_id"]),
        ):
            answer = search(gw, "YC-NE", purpose, system, value)
            assert (answer.status_code, answer.content) == (404, unknown.content), (purpose, system)
    adult = gw.http.get(f"/fhir/Bundle/{gw.published.assessment_id}", auth=gw.auth("YC-NE", "case-management"))
    assert (adult.status_code, adult.content) == (404, unknown.content)


def test_the_same_conflict_is_refused_through_the_fhir_document_route(gw):
    before = stored_state(gw)
    document = with_youth_court_reference(as_document(child_with_adults_nhs_number()))
    response = gw.http.post(
        "/fhir/Bundle",
        json=document,
        auth=gw.auth("LD-NE", "ld-service"),
        headers={"Content-Type": "application/fhir+json"},
    )
    # Named where the document holds them: the Patient's birthDate and names.
    patient = next(i for i, e in enumerate(document["entry"]) if e["resource"]["resourceType"] == "Patient")
    assert_conflict(response, {f"Bundle.entry[{patient}].resource.birthDate", f"Bundle.entry[{patient}].resource.name"})
    assert stored_state(gw) == before


def test_a_pnc_id_on_record_for_someone_else_is_a_conflict_on_the_element_that_differs(gw):
    """Same family name, other date of birth, the adult's PNC ID (unpadded): only the date is named."""
    document = copy.deepcopy(ADULT)
    document["local_reference"] = "LD-NE-2026-000777"
    del document["subject"]["nhs_number"]
    document["subject"]["pnc_id"] = "2020/9N"  # the adult's 2020/0000009N, serial unpadded
    document["subject"]["date_of_birth"] = "1993-03-14"
    response = gw.http.post("/assessments", json=document, auth=gw.auth("LD-NE", "ld-service"))
    assert_conflict(response, {"subject.date_of_birth"})
    assert "PNC ID" in response.text


def test_nhs_number_and_pnc_id_of_two_people_are_a_conflict(gw):
    other = copy.deepcopy(CHILD)
    other["case_links"] = [{"agency_code": "YC-NE", "case_reference": "3017700131"}]
    assert gw.http.post("/assessments", json=other, auth=gw.auth("LD-NE", "ld-service")).status_code == 201
    mixed = copy.deepcopy(ADULT)
    mixed["local_reference"] = "LD-NE-2026-000778"
    mixed["subject"]["pnc_id"] = CHILD["subject"]["pnc_id"]
    response = gw.http.post("/assessments", json=mixed, auth=gw.auth("LD-NE", "ld-service"))
    assert_conflict(response, {"subject.nhs_number", "subject.pnc_id"})


def test_a_pnc_id_is_one_person_in_either_written_form(gw):
    child = copy.deepcopy(CHILD)
    del child["subject"]["nhs_number"]
    child["subject"]["pnc_id"] = "2025/318472V"  # the example's 2025/0318472V, serial unpadded
    child["case_links"] = [{"agency_code": "YC-NE", "case_reference": "3017700131"}]
    first = gw.http.post("/assessments", json=child, auth=gw.auth("LD-NE", "ld-service"))
    assert first.status_code == 201, first.text
    again = copy.deepcopy(child)
    again["local_reference"] = "LD-NE-2026-000132"
    again["subject"]["pnc_id"] = "2025/0318472V"
    assert gw.http.post("/assessments", json=again, auth=gw.auth("LD-NE", "ld-service")).status_code == 201
    with gw.sessions() as session:
        assert len({a.subject_id for a in session.execute(select(Assessment)).scalars()}) == 2  # adult, child
    for written in ("2025/318472V", "2025/0318472V", "2025/0318472v"):
        found = search(gw, "YC-NE", "case-management", PNC_ID_SYSTEM, written)
        assert found.status_code == 200, (written, found.text)
        assert len(found.json()["entry"]) == 2


def test_resolving_a_changed_family_name_is_an_explicit_logged_decision(gw):
    renamed = copy.deepcopy(ADULT)
    renamed["local_reference"] = "LD-NE-2026-000779"
    renamed["subject"]["names"] = [{"use": "official", "family": "Okonedo", "given": ["Daniel"]}]
    refused = gw.http.post("/assessments", json=renamed, auth=gw.auth("LD-NE", "ld-service"))
    assert_conflict(refused, {"subject.names"})

    elements = accept_identity(
        gw.sessions,
        gw.keyring,
        subject_id=gw.published.subject_id,
        family_name="OKONEDO ",
        birth_date=None,
        by="A. Admin",
        reference="IG-77",
        now=NOW,
    )
    assert elements == ["family-name"]
    entry = log_entries(gw)[-1]
    assert entry["event"] == "identity:subject:identity-accepted" and entry["reason"] == "accepted:family-name"
    assert "Okonedo".casefold() not in json.dumps(entry).casefold()
    accepted = gw.http.post("/assessments", json=renamed, auth=gw.auth("LD-NE", "ld-service"))
    assert accepted.status_code == 201, accepted.text
    with gw.sessions() as session:
        assert store.subject_of_assessment(session, accepted.json()["id"]) == gw.published.subject_id


def test_detaching_a_wrongly_recorded_identifier_lets_its_owner_be_published(gw):
    """The adult's record carried the child's NHS number; the administrator takes it off him."""
    child = copy.deepcopy(CHILD)
    child["case_links"] = [{"agency_code": "YC-NE", "case_reference": "3017700131"}]
    child["subject"]["nhs_number"] = UNKNOWN_NHS
    mistaken = copy.deepcopy(ADULT)
    mistaken["local_reference"] = "LD-NE-2026-000780"
    del mistaken["subject"]["pnc_id"]
    mistaken["subject"]["nhs_number"] = UNKNOWN_NHS
    mistaken["subject"].pop("cro_number", None)
    ok = gw.http.post("/assessments", json=mistaken, auth=gw.auth("LD-NE", "ld-service"))
    assert ok.status_code == 201, ok.text
    del child["subject"]["pnc_id"]
    assert_conflict(
        gw.http.post("/assessments", json=child, auth=gw.auth("LD-NE", "ld-service")),
        {"subject.date_of_birth", "subject.names"},
    )
    with gw.sessions() as session:
        mistaken_subject = store.subject_of_assessment(session, ok.json()["id"])
    assert mistaken_subject is not None
    detach_identifier(
        gw.sessions, gw.keyring, subject_id=mistaken_subject, system=store.NHS_NUMBER, value=UNKNOWN_NHS, now=NOW
    )
    assert log_entries(gw)[-1]["event"] == "identity:subject:identifier-detached"
    published = gw.http.post("/assessments", json=child, auth=gw.auth("LD-NE", "ld-service"))
    assert published.status_code == 201, published.text
    with gw.sessions() as session:
        assert store.subject_of_assessment(session, published.json()["id"]) != mistaken_subject


def test_the_importer_reports_a_conflict_on_its_row_and_imports_the_rest(cli, settings, tmp_path):
    from tests.test_records_cli import SAMPLES

    cli("init")
    from gateway.db.engine import make_engine, make_session_factory
    from tests.factories import add_agencies

    engine = make_engine(settings.database_url)
    add_agencies(make_session_factory(engine))
    engine.dispose()
    cli("import", str(SAMPLES / "export.csv"), "--agency", "LD-NE")
    with (SAMPLES / "export.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Row 1 again as a new record: once with the same person's details (joins him), once with another birth date.
    same = {**rows[0], "record_id": "NE-CASE-2026-0901"}
    other = {**rows[0], "record_id": "NE-CASE-2026-0902", "date_of_birth": "2009-07-02"}
    path = tmp_path / "more.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([same, other])
    report_path = tmp_path / "report.json"
    result = cli("import", str(path), "--agency", "LD-NE", "--report", str(report_path), code=1)
    assert "1 conflict" in result.output
    report = json.loads(report_path.read_text())
    assert report["counts"]["created"] == 1 and report["counts"]["conflict"] == 1
    conflict = next(r for r in report["rows"] if r["outcome"] == "conflict")
    assert conflict["record_id"] == "NE-CASE-2026-0902"
    assert {p["column"] for p in conflict["problems"]} == {"date_of_birth"}
    assert "1988-07-02" not in report_path.read_text()
