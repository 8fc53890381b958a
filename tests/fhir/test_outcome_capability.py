"""OperationOutcome and CapabilityStatement validate as R4 resources."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome

from gateway.fhir import Issue, capability_statement, operation_outcome, single_issue
from gateway.fhir.terminology import OAUTH_URIS_EXTENSION


def test_operation_outcome_lists_every_issue():
    outcome = operation_outcome(
        [
            Issue("required", "subject.date_of_birth is required", "subject.date_of_birth"),
            Issue("value", "nhs_number fails the modulus 11 check", "subject.nhs_number"),
            Issue.warning("informational", "alias ignored for matching"),
        ]
    )
    OperationOutcome.model_validate(outcome)
    assert [i["code"] for i in outcome["issue"]] == ["required", "value", "informational"]
    assert outcome["issue"][1]["expression"] == ["subject.nhs_number"]
    assert "expression" not in outcome["issue"][2]
    assert [i["severity"] for i in outcome["issue"]] == ["error", "error", "warning"]


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


def test_operation_outcome_refuses_no_issues_and_anything_that_is_not_an_issue():
    with pytest.raises(ValueError):
        operation_outcome([])
    with pytest.raises(TypeError):
        operation_outcome([("error", "invalid", "x", None)])  # the tuple shapes this type replaced


@pytest.mark.parametrize(("code", "severity"), [("invalid", "bad"), ("nonsense", "error"), ("invalid", "")])
def test_an_issue_with_an_unknown_severity_or_code_cannot_be_made(code, severity):
    with pytest.raises(ValueError):
        Issue(code, "x", severity=severity)


def test_an_issue_is_a_frozen_value():
    issue = Issue("value", "must be a date", "subject.date_of_birth")
    assert issue == Issue("value", "must be a date", "subject.date_of_birth", severity="error")
    assert issue.is_error and not Issue.warning("value", "x").is_error
    with pytest.raises(AttributeError):
        issue.code = "invalid"  # type: ignore[misc]


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
