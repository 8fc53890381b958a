"""OperationOutcome and CapabilityStatement validate as R4 resources."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.fhir import capability_statement, operation_outcome, single_issue
from gateway.fhir.terminology import OAUTH_URIS_EXTENSION


def test_operation_outcome_lists_every_issue():
    outcome = operation_outcome(
        [
            ("error", "required", "subject.date_of_birth is required", "subject.date_of_birth"),
            ("error", "value", "nhs_number fails the modulus 11 check", "subject.nhs_number"),
            ("warning", "informational", "alias ignored for matching", None),
        ]
    )
    OperationOutcome.model_validate(outcome)
    assert [i["code"] for i in outcome["issue"]] == ["required", "value", "informational"]
    assert outcome["issue"][1]["expression"] == ["subject.nhs_number"]
    assert "expression" not in outcome["issue"][2]


def test_single_issue():
    outcome = single_issue("forbidden", "purpose of use not permitted for this client")
    OperationOutcome.model_validate(outcome)
    assert outcome == {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "forbidden", "diagnostics": "purpose of use not permitted for this client"}
        ],
    }
    assert single_issue("not-found", "no such bundle", severity="information")["issue"][0]["severity"] == "information"


@pytest.mark.parametrize("issues", [[], [("bad", "invalid", "x", None)], [("error", "nonsense", "x", None)]])
def test_operation_outcome_refuses_bad_issues(issues):
    with pytest.raises(ValueError):
        operation_outcome(issues)


def test_capability_statement_validates_and_lists_what_is_served():
    cs = capability_statement("https://gw.example.org/fhir", "https://gw.example.org/oauth2/token", "0.1.0")
    CapabilityStatement.model_validate(cs)
    assert cs["kind"] == "instance" and cs["fhirVersion"] == "4.0.1" and cs["format"] == ["json"]
    assert cs["implementation"]["url"] == "https://gw.example.org/fhir"
    rest = cs["rest"][0]
    assert rest["mode"] == "server"
    security = rest["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    oauth = security["extension"][0]
    assert oauth["url"] == OAUTH_URIS_EXTENSION
    assert oauth["extension"] == [{"url": "token", "valueUri": "https://gw.example.org/oauth2/token"}]
    by_type = {r["type"]: r for r in rest["resource"]}
    bundle = by_type["Bundle"]
    assert {i["code"] for i in bundle["interaction"]} == {"read", "search-type", "create"}
    # The standard Bundle parameter, chained (the alias patient.identifier is documented, not declared).
    assert [p["name"] for p in bundle["searchParam"]] == ["composition", "_count", "_format"]
    assert bundle["searchParam"][0]["definition"] == "http://hl7.org/fhir/SearchParameter/Bundle-composition"
    assert "composition.patient.identifier" in bundle["searchParam"][0]["documentation"]
    assert {i["code"] for i in by_type["Task"]["interaction"]} == {"create", "read", "patch", "search-type"}
    assert by_type["Task"]["searchParam"][0]["name"] == "status"
