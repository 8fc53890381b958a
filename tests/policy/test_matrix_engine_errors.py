"""The disclosure matrix while the policy engine fails (an OPA timeout, the embedded engine's thread busy):
the engine's failure is not the policy refusing, so no matrix is drawn (``MatrixIncomplete``), and
``ld-gateway policy matrix`` and ``policy diff`` say so in one line and exit 2 with nothing on stdout."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.policy.matrix import MatrixIncomplete, compute_matrix, matrix_decisions, matrix_input
from gateway.policy.matrix_html import render_matrix_html
from tests.factories import ErringEngine

FAILING_CELL = ("court", "sentencing", "withdrawn", "child")


class FailsOnOneCell:
    """The real engine, except that one question fails as an OPA timeout does."""

    def __init__(self, engine) -> None:
        self.inner = engine
        self.revision = engine.revision
        self.catalogue_ids = engine.catalogue_ids

    def decide(self, policy_input):
        if policy_input == matrix_input(*FAILING_CELL):
            return replace(ErringEngine(self.catalogue_ids).decide(policy_input), policy_revision=self.revision)
        return self.inner.decide(policy_input)


def test_matrix_does_not_report_an_engine_error_as_the_policy_refusing():
    with pytest.raises(MatrixIncomplete):
        compute_matrix(ErringEngine())


def test_matrix_incomplete_names_the_first_failing_cell_and_the_engines_error(cached_engine):
    with pytest.raises(MatrixIncomplete) as raised:
        compute_matrix(FailsOnOneCell(cached_engine))
    assert raised.value.cell == FAILING_CELL
    message = str(raised.value)
    assert "court at sentencing, consent withdrawn, child" in message
    assert "policy-error" in message and "OPA timed out" in message and cached_engine.revision in message


def test_the_matrix_stops_asking_at_the_first_failure():
    """During an OPA outage each question waits for its own timeout: one is enough to know."""
    erring = ErringEngine()
    with pytest.raises(MatrixIncomplete):
        matrix_decisions(erring)
    assert erring.questions == 1


def test_the_sign_off_page_never_prints_an_engine_error_as_withheld(cached_engine):
    decisions = matrix_decisions(cached_engine)
    failed = ErringEngine(cached_engine.catalogue_ids).decide(matrix_input(*FAILING_CELL))
    decisions = [(cell, failed if cell == FAILING_CELL else decision) for cell, decision in decisions]
    with pytest.raises(MatrixIncomplete):
        render_matrix_html(decisions, field_titles={}, revision=cached_engine.revision, generated="now")


@pytest.mark.parametrize("output", [[], ["--json"], ["--csv"], ["--wide"], ["--html"]])
def test_policy_matrix_reports_an_engine_error_in_one_line_and_exits_2(cli, monkeypatch, output):
    from gateway.policy import loader

    monkeypatch.setattr(loader, "load_engine", lambda settings, catalogue_ids, **kwargs: ErringEngine(catalogue_ids))
    result = cli("policy", "matrix", *output, code=2)
    assert result.stdout == "", "no matrix, not even part of one"
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the policy engine did not answer for police at custody, consent given, adult")
    assert "OPA timed out" in line and "refused" not in line


def test_policy_diff_reports_an_engine_error_in_one_line_and_exits_2(cli, monkeypatch):
    from gateway.policy import engine

    monkeypatch.setattr(engine, "EmbeddedRegoEngine", lambda source, catalogue_ids: ErringEngine(catalogue_ids))
    result = cli("policy", "diff", "policies", "policies", code=2)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "did not answer" in line and "now refused" not in line
