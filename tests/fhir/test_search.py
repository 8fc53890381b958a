"""Bundle search parameters: the chained standard name, its alias, _count and _format."""

from __future__ import annotations

import pytest

from gateway.fhir.search import BundleSearch, parse_bundle_search

NHS = "https://fhir.nhs.uk/Id/nhs-number|9000000009"


@pytest.mark.parametrize("name", ["composition.patient.identifier", "patient.identifier"])
def test_standard_chain_and_alias(name):
    assert parse_bundle_search([(name, NHS)]) == BundleSearch("https://fhir.nhs.uk/Id/nhs-number", "9000000009", None)


def test_count_and_json_format_are_accepted():
    parsed = parse_bundle_search(
        [("composition.patient.identifier", NHS), ("_count", "2"), ("_format", "application/fhir+json")]
    )
    assert parsed == BundleSearch("https://fhir.nhs.uk/Id/nhs-number", "9000000009", 2)
    assert isinstance(parse_bundle_search([("patient.identifier", NHS), ("_format", "json")]), BundleSearch)


@pytest.mark.parametrize(
    "params, expressions",
    [
        ([], ["composition.patient.identifier"]),
        ([("patient.identifier", NHS), ("composition.patient.identifier", NHS)], ["composition.patient.identifier"]),
        ([("patient.identifier", "9000000009")], ["composition.patient.identifier"]),
        ([("patient.identifier", NHS), ("_count", "0")], ["_count"]),
        ([("patient.identifier", NHS), ("_count", "x")], ["_count"]),
        ([("patient.identifier", NHS), ("_count", "9" * 5000)], ["_count"]),
        ([("patient.identifier", NHS), ("name", "Hewitt"), ("name", "x")], ["name"]),
        ([("_count", "-1"), ("birthdate", "1990")], ["birthdate", "composition.patient.identifier", "_count"]),
    ],
)
def test_every_problem_is_named(params, expressions):
    status, problems = parse_bundle_search(params)
    assert status == 400
    assert [p.expression for p in problems] == expressions


def test_xml_is_not_acceptable():
    status, problems = parse_bundle_search([("patient.identifier", NHS), ("_format", "xml")])
    assert status == 406 and problems[0].expression == "_format"
