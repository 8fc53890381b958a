"""The Rego unit tests' reports, each run once per session for the bytes it was run on.

``ld-gateway policy test`` runs the tests afresh every time (gateway/policy/rego_tests.py); the suite
reads the production policy's report from several files, so :class:`RegoReports` keeps each report,
keyed by everything a report depends on: the directory (an error names it), the catalogue, the bytes of
the production modules and ``data.json``, and the test modules. The policy is read once per call and
the key taken from what was read, so a test that edits a policy, a copy or the directory itself, gets
the report of its edit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from gateway.policy import RegoTestReport, run_rego_tests
from gateway.policy.source import PolicyLoadError, PolicySource, read_policy

_Key = tuple[Path, tuple[str, ...], tuple[tuple[str, bytes], ...], tuple[tuple[str, str], ...]]


class RegoReports:
    """``run_rego_tests``, with a report kept for each policy it ran; ``run`` is what runs the tests."""

    def __init__(self, run: Callable[[Path | PolicySource, Sequence[str]], RegoTestReport] = run_rego_tests) -> None:
        self._run = run
        self._reports: dict[_Key, RegoTestReport] = {}

    def __call__(self, policy_dir: Path, catalogue_ids: Sequence[str]) -> RegoTestReport:
        try:
            source = read_policy(policy_dir, catalogue_ids, with_tests=True)
        except PolicyLoadError:
            return self._run(policy_dir, catalogue_ids)  # its report says what is wrong; nothing to keep
        key = (source.directory, source.catalogue_ids, source.files, source.tests)
        report = self._reports.get(key)
        if report is None:
            report = self._reports[key] = self._run(source, catalogue_ids)
        # Each caller gets cases of its own: they are dicts, and a test may change what it was given.
        return replace(report, cases=copy.deepcopy(report.cases))
