"""The suite's Rego report cache (tests/policy/rego_reports.py): the same bytes are run once, and a
changed byte anywhere the report depends on is run again."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from gateway.policy import RegoTestReport, run_rego_tests
from gateway.policy.source import PolicySource

from .rego_reports import RegoReports


class Counted:
    """``run_rego_tests``, counting its runs."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, policy: Path | PolicySource, catalogue_ids: Sequence[str]) -> RegoTestReport:
        self.runs += 1
        return run_rego_tests(policy, catalogue_ids)


@pytest.fixture
def counted() -> Counted:
    return Counted()


@pytest.fixture
def reports(counted: Counted) -> RegoReports:
    return RegoReports(run=counted)


def test_the_same_bytes_run_once_and_each_caller_gets_cases_of_its_own(tiny_policy, catalogue_ids, counted, reports):
    first = reports(tiny_policy, catalogue_ids)
    again = reports(tiny_policy, catalogue_ids)

    assert first.passed == 1 and first.cases == ({"purpose": "charging"},)
    assert again == first and counted.runs == 1
    again.cases[0]["purpose"] = "changed by a caller"
    assert reports(tiny_policy, catalogue_ids).cases == first.cases, "each caller's cases are its own"
    assert counted.runs == 1


def _edit_module(policy: Path) -> None:
    rego = policy / "tiny.rego"
    rego.write_text(rego.read_text() + "\nunused if input.never\n")


def _edit_data(policy: Path) -> None:
    (policy / "data.json").write_text(json.dumps({"gateway": {"deny_precedence": ["never-named"]}}))


def _add_a_test(policy: Path) -> None:
    tests = policy / "tiny_test.rego"
    tests.write_text(tests.read_text() + "\ntest_one_more if true\n")


EDITS: dict[str, Callable[[Path], None]] = {
    "production module": _edit_module,
    "data": _edit_data,
    "test module": _add_a_test,
}


@pytest.mark.parametrize("edit", EDITS, ids=list(EDITS))
def test_a_changed_byte_runs_the_tests_again(tiny_policy, catalogue_ids, counted, reports, edit):
    before = reports(tiny_policy, catalogue_ids)
    EDITS[edit](tiny_policy)
    after = reports(tiny_policy, catalogue_ids)

    assert counted.runs == 2
    assert after == run_rego_tests(tiny_policy, catalogue_ids), "the report of the policy as edited"
    assert after != before and after.cases == before.cases


def test_another_catalogue_runs_the_tests_again(tiny_policy, catalogue_ids, counted, reports):
    reports(tiny_policy, catalogue_ids)
    other = reports(tiny_policy, (*catalogue_ids, "extra.field"))

    assert counted.runs == 2
    assert other.passed == 1
    reports(tiny_policy, catalogue_ids)
    assert counted.runs == 2, "the first catalogue's report is still kept"


def test_the_same_bytes_in_another_directory_run_again(tiny_policy, tmp_path, catalogue_ids, counted, reports):
    copy = shutil.copytree(tiny_policy, tmp_path / "copy")
    reports(tiny_policy, catalogue_ids)
    reports(copy, catalogue_ids)

    assert counted.runs == 2  # a report can name its directory (an error does)


def test_a_policy_that_cannot_be_read_is_reported_and_not_kept(tiny_policy, catalogue_ids, counted, reports):
    data = (tiny_policy / "data.json").read_bytes()
    (tiny_policy / "data.json").unlink()
    broken = reports(tiny_policy, catalogue_ids)
    (tiny_policy / "data.json").write_bytes(data)
    mended = reports(tiny_policy, catalogue_ids)

    assert not broken.ok and "data file is missing" in broken.errors[0]
    assert mended.passed == 1 and counted.runs == 2
