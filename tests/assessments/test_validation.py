"""Validation of the canonical assessment: schema, identifiers and the age rule, all reported together."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from gateway.assessments.catalogue import load_catalogue, resolve_pointer
from gateway.assessments.validation import age_on, load_schema, validate_assessment
from gateway.issue import Issue

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema(SCHEMAS)


def _example(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / "examples" / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture
def adult() -> dict[str, Any]:
    return _example("adult")


@pytest.fixture
def child() -> dict[str, Any]:
    return _example("child")


def _validate(document: Any, schema: dict[str, Any]) -> tuple[dict[str, Any] | None, list[Issue]]:
    return validate_assessment(document, schema, today=TODAY)


def _expressions(problems: list[Issue]) -> set[str]:
    return {p.expression for p in problems}


# ---------------------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("name", ["adult", "child"])
def test_examples_are_valid(schema: dict[str, Any], name: str) -> None:
    document = _example(name)
    normalised, problems = _validate(document, schema)
    assert problems == []
    assert normalised == document  # the examples are already in canonical form


def test_examples_have_different_local_references(adult: dict[str, Any], child: dict[str, Any]) -> None:
    assert adult["local_reference"] != child["local_reference"]


def test_examples_ages(adult: dict[str, Any], child: dict[str, Any]) -> None:
    def age(doc: dict[str, Any]) -> int:
        dob = date.fromisoformat(doc["subject"]["date_of_birth"])
        return age_on(dob, date.fromisoformat(doc["context"]["assessed_at"][:10]))

    assert age(adult) == 34
    assert age(child) == 15
    assert child["consent"]["gillick_competent"] is True
    assert adult["consent"]["gillick_competent"] is None


def test_every_catalogue_field_for_an_adult_has_a_value_in_the_adult_example(adult: dict[str, Any]) -> None:
    # An adult consents for themselves, and youth rehabilitation order requirements are for under-18s.
    catalogue = load_catalogue(SCHEMAS / "field-catalogue.json")
    missing = [f.id for f in catalogue if resolve_pointer(adult, f.pointer) is None]
    assert missing == ["consent.given_by", "treatment.youth_requirements"]


def test_every_catalogue_field_for_this_child_has_a_value_in_the_child_example(child: dict[str, Any]) -> None:
    # Under-18s are supervised by the YOT, not probation: a child has no probation case reference; this
    # Gillick-competent child consents for himself; adult treatment requirements do not apply to him.
    catalogue = load_catalogue(SCHEMAS / "field-catalogue.json")
    missing = [f.id for f in catalogue if resolve_pointer(child, f.pointer) is None]
    assert missing == ["identity.crn", "consent.given_by", "treatment.requirements"]


def test_every_object_in_the_schema_refuses_unknown_properties(schema: dict[str, Any]) -> None:
    def objects(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
        found = []
        if isinstance(node, dict):
            if "properties" in node and "if" not in where:
                found.append((where, node))
            for key, value in node.items():
                found.extend(objects(value, f"{where}/{key}"))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                found.extend(objects(value, f"{where}/{i}"))
        return found

    found = objects(schema, "#")
    assert len(found) > 20
    assert [w for w, node in found if node.get("additionalProperties") is not False and "then" not in w] == []


# --------------------------------------------------------------------------------------- normalisation


def test_identifiers_are_normalised_on_a_copy(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"].update(nhs_number="944 930 5552", pnc_id="2020/0000009n", cro_number="123456/08t", crn="x123456")
    original = copy.deepcopy(adult)
    normalised, problems = _validate(adult, schema)
    assert problems == []
    assert normalised is not None
    assert normalised["subject"]["nhs_number"] == "9449305552"
    assert normalised["subject"]["pnc_id"] == "2020/0000009N"
    assert normalised["subject"]["cro_number"] == "123456/08T"
    assert normalised["subject"]["crn"] == "X123456"
    assert adult == original


# --------------------------------------------------------------------------------- many problems at once


def test_every_problem_is_reported_at_once(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    subject = adult["subject"]
    subject["nhs_number"] = "9449305553"  # wrong check digit
    subject["pnc_id"] = "2020/0000009M"  # wrong check letter
    subject["cro_number"] = "123456/08S"  # wrong check letter
    del subject["names"]
    subject["nhs_no"] = "9449305552"  # misspelt key
    subject["date_of_birth"] = "2017-06-01"  # 9 on the day of assessment
    adult["case_links"][1]["agency_code"] = ""
    adult["consent"]["status"] = "yes-please"
    adult["fitness"]["interview"]["notse"] = "misspelt"

    normalised, problems = _validate(adult, schema)

    assert normalised is None
    assert len(problems) >= 5
    codes = {p.expression: p.code for p in problems}
    assert codes == {
        "subject.nhs_number": "value",
        "subject.pnc_id": "value",
        "subject.cro_number": "value",
        "subject.names": "required",
        "subject.nhs_no": "structure",
        "subject.date_of_birth": "business-rule",
        "case_links[1].agency_code": "value",
        "consent.status": "code-invalid",
        "fitness.interview.notse": "structure",
    }
    assert len(problems) == len(codes)  # one problem per element, no duplicates


def test_messages_never_repeat_submitted_values(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    bad = {
        "nhs_number": "9449305553",
        "pnc_id": "2020/0000009M",
        "cro_number": "123456/08S",
        "crn": "Q12345",
        "date_of_birth": "2017-06-01",
    }
    adult["subject"].update(bad)
    adult["subject"]["names"][0]["family"] = " Padded "
    adult["consent"]["status"] = "yes-please"
    adult["context"]["assessed_at"] = "20 November 2026"
    adult["clinical_detail"] = "Z" * 4001
    adult["referrals"][0]["date"] = "2026-02-30"

    _, problems = _validate(adult, schema)

    assert _expressions(problems) == {
        "subject.nhs_number",
        "subject.pnc_id",
        "subject.cro_number",
        "subject.crn",
        "subject.names[0].family",
        "consent.status",
        "context.assessed_at",
        "clinical_detail",
        "referrals[0].date",
    }  # the age rule needs a valid assessed_at, so it is not checked here
    text = " ".join(p.diagnostics for p in problems)
    for value in [*bad.values(), "Padded", "yes-please", "20 November", "ZZZZ", "2026-02-30", "9449305552"]:
        assert value not in text


def test_no_nhs_number_and_no_pnc_id(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    del adult["subject"]["nhs_number"], adult["subject"]["pnc_id"]
    _, problems = _validate(adult, schema)
    assert problems == [Issue("invariant", "at least one of nhs_number or pnc_id is required", "subject")]


@pytest.mark.parametrize("keep", ["nhs_number", "pnc_id"])
def test_either_nhs_number_or_pnc_id_is_enough(schema: dict[str, Any], adult: dict[str, Any], keep: str) -> None:
    for key in ("nhs_number", "pnc_id", "cro_number", "crn"):
        if key != keep:
            del adult["subject"][key]
    assert _validate(adult, schema)[1] == []


def test_a_malformed_identifier_is_one_problem_not_two(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"]["nhs_number"] = "12345"
    adult["subject"]["pnc_id"] = "2020/12345678N"
    _, problems = _validate(adult, schema)
    assert [p.expression for p in problems] == ["subject.nhs_number", "subject.pnc_id"]
    assert problems[0].diagnostics == "NHS number must be 10 digits"


def test_missing_required_sections(schema: dict[str, Any]) -> None:
    _, problems = _validate({"subject": {"names": [{"use": "official"}], "pnc_id": "2020/0000009N"}}, schema)
    assert _expressions(problems) == {
        "local_reference",
        "case_links",
        "context",
        "consent",
        "subject.date_of_birth",
        "subject.names[0]",
    }
    assert all(p.code in {"required", "invariant"} for p in problems)


def test_empty_lists_where_one_is_required(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"]["names"] = []
    adult["case_links"] = []
    _, problems = _validate(adult, schema)
    assert {(p.expression, p.code) for p in problems} == {
        ("subject.names", "required"),
        ("case_links", "required"),
    }


@pytest.mark.parametrize("document", [[], "assessment", None, 42])
def test_a_document_that_is_not_an_object(schema: dict[str, Any], document: Any) -> None:
    assert _validate(document, schema) == (None, [Issue("structure", "must be an object", "$")])


def test_unknown_keys_are_quoted_and_cut_short(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"]["date of birth"] = "x"
    adult["subject"]["k" * 500] = "x"
    _, problems = _validate(adult, schema)
    assert [p.expression for p in problems] == ['subject["date of birth"]', 'subject["' + "k" * 61 + '..."]']


@pytest.mark.parametrize("depth", [40, 900])
def test_absurdly_nested_input_is_refused_cleanly(schema: dict[str, Any], depth: int) -> None:
    document = json.loads('{"local_reference": ' + "[" * depth + "]" * depth + "}")
    assert _validate(document, schema) == (
        None,
        [Issue("too-costly", "is nested more than 32 levels deep", "$")],
    )


def test_misspelt_top_level_section(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["vulnerabilty_summary"] = adult.pop("vulnerability_summary")
    _, problems = _validate(adult, schema)
    assert [(p.expression, p.code) for p in problems] == [("vulnerabilty_summary", "structure")]


def test_content_sections_are_optional(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    required = {"local_reference", "subject", "case_links", "context", "consent"}
    minimal = {k: v for k, v in adult.items() if k in required}
    minimal["subject"] = {
        "names": [{"use": "official", "given": ["Sam"]}],
        "date_of_birth": "1990-04-01",
        "pnc_id": "2020/0000009N",
    }
    minimal["consent"] = {"status": "declined", "recorded_at": "2026-11-20T10:05:00Z"}
    assert _validate(minimal, schema)[1] == []


def test_snomed_codes_must_be_concept_ids(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["diagnoses"][0]["code"] = "F32.1"
    adult["diagnoses"][1]["system"] = "http://hl7.org/fhir/sid/icd-10"
    adult["diagnoses"][1]["code"] = "F10.2"
    _, problems = _validate(adult, schema)
    assert [(p.expression, p.code) for p in problems] == [("diagnoses[0].code", "value")]


@pytest.mark.parametrize("value", ["POL-NE\n", " POL-NE", "POL NE", ""])
def test_agency_codes_are_tokens(schema: dict[str, Any], adult: dict[str, Any], value: str) -> None:
    adult["case_links"][0]["agency_code"] = value
    _, problems = _validate(adult, schema)
    assert [p.expression for p in problems] == ["case_links[0].agency_code"]


# -------------------------------------------------------------------------------------- dates and times


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("2026-11-20T10:15:00Z", True),
        ("2026-11-20T10:15:00.123Z", True),
        ("2026-11-20T10:15:00+01:00", True),
        ("2026-11-20t10:15:00z", True),
        ("2026-11-20", False),
        ("2026-11-20T10:15:00", False),  # no time zone
        ("2026-11-20 10:15:00Z", False),
        ("2026-02-30T10:15:00Z", False),
        ("2026-11-20T25:15:00Z", False),
        ("2026-11-20T10:15:00+24:00", False),
        ("20261120T101500Z", False),
    ],
)
def test_date_time_format(schema: dict[str, Any], adult: dict[str, Any], value: str, ok: bool) -> None:
    adult["context"]["assessed_at"] = value
    _, problems = _validate(adult, schema)
    assert (problems == []) is ok
    if not ok:
        assert [(p.expression, p.code) for p in problems] == [("context.assessed_at", "value")]


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1992-03-14", True),
        ("1992-3-14", False),
        ("19920314", False),
        ("1992-W11-6", False),
        ("1992-02-30", False),
        ("1992-03-14T00:00:00Z", False),
    ],
)
def test_date_format(schema: dict[str, Any], adult: dict[str, Any], value: str, ok: bool) -> None:
    adult["subject"]["date_of_birth"] = value
    _, problems = _validate(adult, schema)
    assert (problems == []) is ok


# ------------------------------------------------------------------------------------------- age rule


@pytest.mark.parametrize(
    ("dob", "on", "age"),
    [
        ("2016-11-21", "2026-11-21", 10),  # tenth birthday
        ("2016-11-21", "2026-11-20", 9),  # the day before
        ("2016-02-29", "2026-02-28", 9),  # leap-day birthday: not yet in a common year
        ("2016-02-29", "2026-03-01", 10),
        ("2016-02-29", "2024-02-29", 8),
        ("1992-03-14", "2026-11-20", 34),
        ("2026-11-21", "2026-11-20", -1),
    ],
)
def test_age_on(dob: str, on: str, age: int) -> None:
    assert age_on(date.fromisoformat(dob), date.fromisoformat(on)) == age


def test_a_child_of_exactly_ten_on_the_day_is_accepted(schema: dict[str, Any], child: dict[str, Any]) -> None:
    child["subject"]["date_of_birth"] = "2016-11-21"  # assessed on 2026-11-21
    assert _validate(child, schema)[1] == []


def test_a_child_one_day_short_of_ten_is_refused(schema: dict[str, Any], child: dict[str, Any]) -> None:
    child["subject"]["date_of_birth"] = "2016-11-22"
    _, problems = _validate(child, schema)
    assert [(p.expression, p.code) for p in problems] == [("subject.date_of_birth", "business-rule")]
    assert "10 or older" in problems[0].diagnostics


def test_assessment_date_is_the_date_as_written_with_its_offset(schema: dict[str, Any], child: dict[str, Any]) -> None:
    # 00:30 on the tenth birthday, UK summer time: still the day before in UTC, but the birthday locally.
    child["subject"]["date_of_birth"] = "2016-06-01"
    child["context"]["assessed_at"] = "2026-06-01T00:30:00+01:00"
    assert _validate(child, schema)[1] == []


def test_date_of_birth_in_the_future(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"]["date_of_birth"] = "2026-11-27"  # the day after TODAY
    _, problems = _validate(adult, schema)
    assert problems == [Issue("value", "date of birth is in the future", "subject.date_of_birth")]


def test_date_of_birth_today_is_not_in_the_future_but_is_under_ten(
    schema: dict[str, Any], adult: dict[str, Any]
) -> None:
    adult["subject"]["date_of_birth"] = TODAY.isoformat()
    _, problems = _validate(adult, schema)
    assert [(p.expression, p.code) for p in problems] == [("subject.date_of_birth", "business-rule")]


def test_load_schema_is_draft_2020_12(schema: dict[str, Any]) -> None:
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_an_operators_schema_that_is_not_a_valid_schema_fails_to_load(tmp_path: Path) -> None:
    """GATEWAY_SCHEMA_DIR may name an operator's own schemas: a broken one stops the gateway at start."""
    from jsonschema.exceptions import SchemaError

    broken = json.loads((SCHEMAS / "assessment.schema.json").read_text(encoding="utf-8"))
    broken["properties"]["subject"]["type"] = "person"  # no such JSON type
    (tmp_path / "assessment.schema.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(SchemaError):
        load_schema(tmp_path)


# ------------------------------------------------------------------------------------- date of death


def test_a_recorded_date_of_death_is_accepted_and_kept(schema: dict[str, Any], adult: dict[str, Any]) -> None:
    adult["subject"]["date_of_death"] = "2026-11-25"  # after the assessment (2026-11-20), before TODAY
    normalised, problems = _validate(adult, schema)
    assert problems == []
    assert normalised is not None and normalised["subject"]["date_of_death"] == "2026-11-25"


def test_the_day_of_assessment_and_today_are_possible_dates_of_death(
    schema: dict[str, Any], adult: dict[str, Any]
) -> None:
    for day in (adult["context"]["assessed_at"][:10], TODAY.isoformat()):
        adult["subject"]["date_of_death"] = day
        assert _validate(adult, schema)[1] == [], day


@pytest.mark.parametrize(
    ("died", "code", "says"),
    [
        ("2026-11-27", "value", "date of death is in the future"),  # the day after TODAY
        ("2026-11-19", "invariant", "date of death is before the date of assessment (context.assessed_at)"),
        ("1980-01-01", "invariant", "date of death is before the date of birth"),
        ("25/11/2026", "value", "must be a date in the form YYYY-MM-DD"),
    ],
)
def test_an_impossible_date_of_death_is_refused_without_repeating_it(
    schema: dict[str, Any], adult: dict[str, Any], died: str, code: str, says: str
) -> None:
    adult["subject"]["date_of_death"] = died
    _, problems = _validate(adult, schema)
    assert problems == [Issue(code, says, "subject.date_of_death")]
    assert died not in problems[0].diagnostics


def test_no_catalogue_field_carries_the_date_of_death() -> None:
    """Never disclosed: the projection only carries what the catalogue points at."""
    catalogue = load_catalogue(SCHEMAS / "field-catalogue.json")
    document = _example("adult")
    document["subject"]["date_of_death"] = "2026-11-25"
    for field in catalogue:
        assert "date_of_death" not in json.dumps(resolve_pointer(document, field.pointer)), field.id
