"""The case-system export adapter: reading CSV/JSON lines and the column mapping (pure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.case_export import COLUMNS, ExportError, read_rows, row_to_assessment
from adapters.case_export.columns import column_for
from gateway.assessments.validation import load_schema, validate_assessment
from tests.conftest import ROOT

SAMPLES = ROOT / "adapters" / "case_export" / "samples"
SCHEMA = load_schema(ROOT / "schemas")


@pytest.mark.parametrize("name", ["export.csv", "export.jsonl"])
def test_every_sample_row_maps_to_a_valid_assessment(name):
    rows = list(read_rows(SAMPLES / name))
    assert rows
    for line, row in rows:
        document, problems = row_to_assessment(row)
        assert problems == [], (line, problems)
        _, issues = validate_assessment(document, SCHEMA)
        assert issues == [], (line, issues)


def test_columns_land_where_the_mapping_says():
    row = {
        "record_id": "R-1",
        "nhs_number": "999 000 0018",
        "family_name": "Okafor",
        "given_names": "Samuel  Chidi",
        "preferred_given_names": "Sam",
        "aliases": "Oka|Sammy; |Chidi",
        "date_of_birth": "1988-07-02",
        "case_links": "POL-NE=01NE0040126;MC-NE=3013400401",
        "assessed_at": "2026-11-18T09:30:00Z",
        "setting": "police-custody",
        "service_name": "North East L&D Service",
        "consent": "given",
        "consent_recorded_at": "2026-11-18T09:20:00Z",
        "consent_purposes": "charging",
        "gillick_competent": "",
        "appropriate_adult_required": "Y",
        "mhtr_suitable": "true",
        "mhtr_consents": "0",
        "diagnoses": "snomed|110359009|Intellectual disability|confirmed; http://read.info/ctv3|X00Dy|Other|reported",
        "referrals": "CLDT|learning-disability|made|2026-11-18",
        "risk_to_self": "low",
        "risk_to_others": "high",
    }
    document, problems = row_to_assessment(row)
    assert problems == []
    assert document["local_reference"] == "R-1"
    assert document["subject"]["names"] == [
        {"use": "official", "family": "Okafor", "given": ["Samuel", "Chidi"]},
        {"use": "usual", "family": "Okafor", "given": ["Sam"]},
        {"use": "alias", "family": "Oka", "given": ["Sammy"]},
        {"use": "alias", "given": ["Chidi"]},
    ]
    assert document["case_links"] == [
        {"agency_code": "POL-NE", "case_reference": "01NE0040126"},
        {"agency_code": "MC-NE", "case_reference": "3013400401"},
    ]
    assert document["consent"] == {
        "status": "given",
        "recorded_at": "2026-11-18T09:20:00Z",
        "limited_to_agencies": [],
        "limited_to_purposes": ["charging"],
        "gillick_competent": None,
        "best_interests_decision": None,
    }
    assert document["needs"] == {"appropriate_adult": {"required": True, "reason": None}}
    assert document["treatment_requirements"] == {"mhtr": {"suitable": True, "consents": False}}
    assert document["diagnoses"][0]["system"] == "http://snomed.info/sct"
    assert document["diagnoses"][1]["system"] == "http://read.info/ctv3"
    assert document["referrals"] == [
        {"service": "CLDT", "need": "learning-disability", "status": "made", "date": "2026-11-18"}
    ]
    assert document["risk"] == {"assessment": {"to_self": "low", "to_others": "high", "summary": None}}
    assert validate_assessment(document, SCHEMA)[1] == []


def test_unreadable_cells_are_named_by_column_without_their_values():
    row = {
        "record_id": "R-2",
        "appropriate_adult_required": "perhaps",
        "case_links": "POL-NE 01NE0040126",
        "diagnoses": "snomed|110359009|Intellectual disability",
        "shoe_size": "9",
    }
    document, problems = row_to_assessment(row)
    assert document is None
    assert {column for column, _ in problems} == {"appropriate_adult_required", "case_links", "diagnoses", "shoe_size"}
    assert "perhaps" not in json.dumps(problems) and "01NE0040126" not in json.dumps(problems)


def test_json_lines_accept_lists_and_booleans(tmp_path: Path):
    path = tmp_path / "x.jsonl"
    row = {"record_id": "R-3", "communication_needs": ["Quiet room", " "], "intermediary_recommended": False}
    path.write_text(json.dumps(row) + "\n\n" + "[1]\n", encoding="utf-8")
    rows = list(read_rows(path))
    assert [line for line, _ in rows] == [1, 3]
    _, problems = row_to_assessment(rows[1][1])
    assert problems == [("row", "not a JSON object")]
    mapped, problems = row_to_assessment({**row, "family_name": "X"})
    assert problems == []
    assert mapped["needs"] == {
        "communication": {"needs": ["Quiet room"], "adjustments": None},
        "intermediary": {"recommended": False, "reason": None},
    }


def test_an_unknown_csv_column_stops_the_file(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("record_id,favourite_colour\nR-1,blue\n", encoding="utf-8")
    with pytest.raises(ExportError, match="favourite_colour"):
        list(read_rows(path))


def test_a_csv_row_with_too_many_cells_is_that_rows_error(tmp_path: Path):
    path = tmp_path / "x.csv"
    path.write_text("record_id,nhs_number\nR-1,9990000018,extra\n", encoding="utf-8")
    [(line, row)] = list(read_rows(path))
    assert line == 2 and row_to_assessment(row)[1] == [("row", "more cells than columns")]


def test_format_from_extension(tmp_path: Path):
    with pytest.raises(ExportError):
        list(read_rows(tmp_path / "x.xlsx"))


def test_problem_locations_map_back_to_columns():
    assert column_for("subject.nhs_number") == "nhs_number"
    assert column_for("case_links[1].agency_code") == "case_links"
    assert column_for("context.assessed_at") == "assessed_at"
    assert column_for("subject.names[0]") == "family_name"
    assert column_for("needs.appropriate_adult.required") == "appropriate_adult_required"
    assert set(COLUMNS) >= {"record_id", "nhs_number", "case_links"}
