from __future__ import annotations

import json

import pytest

from gateway.policy import RegoTestReport, format_report, run_rego_tests
from gateway.policy.rego_tests import find_tests
from gateway.policy.source import read_policy


@pytest.fixture
def report(rego_report) -> RegoTestReport:
    """The production policy's own unit tests, run once per session (tests/policy/conftest.py)."""
    return rego_report


def test_the_policy_unit_tests_pass(report):
    assert report.ok, "\n".join(format_report(report))
    assert len(report.results) >= 15
    assert {r.package for r in report.results} == {"gateway.disclosure_test"}
    assert report.errors == ()


def test_every_line_of_the_production_policy_is_exercised(report):
    coverage = {c.file: c for c in report.coverage}
    assert set(coverage) == {"disclosure.rego"}
    assert coverage["disclosure.rego"].not_covered == ()


def test_a_failing_test_makes_the_report_not_ok_and_is_named(policy_copy, catalogue_ids):
    (policy_copy / "extra_test.rego").write_text(
        "package gateway.extra_test\n\nimport rego.v1\n\nimport data.gateway.disclosure\n\n"
        "test_police_see_diagnoses if {\n"
        '\td := disclosure.decision with input as {"recipient": {"agency_type": "police", "agency_code": "P"},'
        ' "purpose": "charging", "subject": {"age": 30, "age_group": "adult"}, "consent": {"status": "given"}}\n'
        '\t"clinical.diagnoses" in d.released\n'
        "}\n\n"
        "test_this_one_passes if true\n"
    )

    report = run_rego_tests(policy_copy, catalogue_ids)
    lines = format_report(report)

    assert not report.ok
    assert [r.name for r in report.failed] == ["test_police_see_diagnoses"]
    assert report.failed[0].file == "extra_test.rego"
    assert "FAIL extra_test.rego: data.gateway.extra_test.test_police_see_diagnoses (undefined)" in lines
    assert "PASS extra_test.rego: data.gateway.extra_test.test_this_one_passes" in lines
    assert lines[-1].startswith("FAILED:")


def test_a_test_that_errors_fails_without_hiding_the_others(policy_copy, catalogue_ids):
    (policy_copy / "error_test.rego").write_text(
        "package gateway.error_test\n\nimport rego.v1\n\n"
        "test_conflict if { x := {1: 1}; x[_] == 1 }\n"
        "value := 1\nvalue := 2\n"
        "test_reads_a_conflict if value == 1\n"
    )

    report = run_rego_tests(policy_copy, catalogue_ids)

    assert not report.ok
    failed = {r.name: r for r in report.failed}
    assert set(failed) == {"test_reads_a_conflict"}
    assert failed["test_reads_a_conflict"].error
    assert report.passed >= 15


def test_a_syntax_error_is_reported_not_raised(policy_copy, catalogue_ids):
    (policy_copy / "broken_test.rego").write_text("package gateway.broken_test\n\ntest_x if {\n")

    report = run_rego_tests(policy_copy, catalogue_ids)

    assert not report.ok
    assert any(e.startswith("broken_test.rego:") for e in report.errors)
    assert format_report(report)[-1].startswith("FAILED:")


def test_no_tests_at_all_is_not_ok(policy_copy, catalogue_ids):
    (policy_copy / "disclosure_test.rego").unlink()

    report = run_rego_tests(policy_copy, catalogue_ids)

    assert not report.ok
    assert report.errors


def test_find_tests_reads_package_and_rule_names_once_each():
    source = "package a.b_test\n\ntest_one if true\ntest_one if false\n  test_indented if true\ntest_two := true\n"

    assert find_tests(source) == ("a.b_test", ["test_one", "test_two"])


def test_every_rule_is_exercised_and_the_cases_are_collected(report):
    assert report.unexercised == ()
    assert any(r.startswith("disclosure.rego:") and r.endswith(" consent_gaps") for r in report.rules)
    assert "data rule withholding override-minimised" in report.rules
    assert "data rule denial child-subject-yot-not-probation" in report.rules
    assert "data rule override-basis serious-harm" in report.rules
    assert "data rule lawful-basis process-minimum" in report.rules
    assert len(report.cases) >= 100
    assert all(set(case) >= {"recipient", "purpose"} for case in report.cases if case)


def test_a_rule_no_test_reaches_fails_the_run_and_is_named(policy_copy, catalogue_ids):
    tests = policy_copy / "disclosure_test.rego"
    source = tests.read_text()
    start = source.index("test_best_interests_decision_stands_in_for_consent_at_health_referral")
    end = source.index("test_not_possible_without_a_best_interests_decision")
    tests.write_text(source[:start] + source[end:])

    report = run_rego_tests(policy_copy, catalogue_ids)

    assert not report.ok
    # The rule, and the lawful basis in the data that rests on it: each named.
    assert [r.split(" ", 1)[1] for r in report.unexercised] == [
        "best_interests_cover",
        "rule lawful-basis best-interests",
    ]
    assert "UNEXERCISED " + report.unexercised[0] in format_report(report)


def test_a_data_rule_no_decision_names_fails_the_run(policy_copy, catalogue_ids):
    data_file = policy_copy / "data.json"
    data = json.loads(data_file.read_text())
    data["gateway"]["rules"].insert(0, {"id": "forgotten-rule", "reason": "Nothing ever applies it."})
    data_file.write_text(json.dumps(data))

    report = run_rego_tests(policy_copy, catalogue_ids)

    assert report.unexercised == ("data rule withholding forgotten-rule",)
    assert not report.ok


def test_each_run_runs_the_tests_again(tiny_policy, catalogue_ids, monkeypatch):
    """The command keeps nothing between runs (the suite keeps reports: tests/policy/rego_reports.py)."""
    from gateway.policy import rego_tests

    runs: list[str] = []
    real = rego_tests._run
    monkeypatch.setattr(rego_tests, "_run", lambda source: runs.append(source.revision) or real(source))
    first = run_rego_tests(tiny_policy, catalogue_ids)
    again = run_rego_tests(tiny_policy, catalogue_ids)

    assert first.passed == 1 and first.cases == ({"purpose": "charging"},)
    assert again == first and again.cases[0] is not first.cases[0]
    assert len(runs) == 2


def test_a_policy_already_read_is_run_as_read(tiny_policy, catalogue_ids):
    with_tests = read_policy(tiny_policy, catalogue_ids, with_tests=True)
    from_directory = run_rego_tests(tiny_policy, catalogue_ids)
    (tiny_policy / "tiny_test.rego").unlink()  # what was read is run, not the directory as it is now

    assert run_rego_tests(with_tests, catalogue_ids) == from_directory
    assert from_directory.passed == 1
    without = run_rego_tests(read_policy(tiny_policy, catalogue_ids), catalogue_ids)
    assert not without.ok and "no Rego unit tests" in without.errors[0]
