"""Running the Rego unit tests (``policies/*_test.rego``): the engine behind ``ld-gateway policy test``.

The tests run on regorus, never on regopy: rego-cpp crashes the whole process on tests that use
``with input as``. Each ``test_*`` rule is evaluated on its own, so one failing or erroring test
never hides another; a test passes only when it evaluates to ``true``. The report also gives line
coverage of the production modules (regorus coverage), so an untested rule shows up.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from gateway.policy.engine import PolicyLoadError, load_policy_data, read_modules, short_error
from gateway.policy.revision import policy_modules, rego_test_modules

_PACKAGE = re.compile(r"^package\s+([A-Za-z_][\w.]*)\s*$", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_\w+)\b", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class RegoTestResult:
    file: str
    package: str
    name: str
    passed: bool
    error: str | None = None

    @property
    def query(self) -> str:
        return f"data.{self.package}.{self.name}"


@dataclass(frozen=True, slots=True)
class FileCoverage:
    file: str
    covered: int
    not_covered: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class RegoTestReport:
    results: tuple[RegoTestResult, ...]
    errors: tuple[str, ...] = ()
    coverage: tuple[FileCoverage, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there were tests, all passed, and nothing failed to load."""
        return bool(self.results) and not self.errors and all(r.passed for r in self.results)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> tuple[RegoTestResult, ...]:
        return tuple(r for r in self.results if not r.passed)


def find_tests(source: str) -> tuple[str, list[str]]:
    """The package of a test module and its ``test_*`` rule names, in order, each once."""
    package = _PACKAGE.search(source)
    if package is None:
        raise ValueError("no package declaration")
    return package.group(1), list(dict.fromkeys(_TEST_RULE.findall(source)))


def run_rego_tests(policy_dir: Path, catalogue_ids: Sequence[str]) -> RegoTestReport:
    """Load every module (production and tests) and data as the engine would, and run each test."""
    policy_dir = Path(policy_dir)
    try:
        data = load_policy_data(policy_dir, catalogue_ids)
        production = read_modules(policy_modules(policy_dir), policy_dir)
        tests = read_modules(rego_test_modules(policy_dir), policy_dir)
    except PolicyLoadError as exc:
        return RegoTestReport((), (str(exc),))
    if not tests:
        return RegoTestReport((), (f"{policy_dir}: no Rego unit tests (*_test.rego) found",))

    engine = regorus.Engine()
    engine.set_enable_coverage(True)
    engine.add_data(data)
    errors: list[str] = []
    for name, source in [*production, *tests]:
        try:
            engine.add_policy(name, source)
        except Exception as exc:
            errors.append(f"{name}: {short_error(exc)}")
    if errors:
        return RegoTestReport((), tuple(errors))

    results: list[RegoTestResult] = []
    for file, source in tests:
        try:
            package, names = find_tests(source)
        except ValueError as exc:
            errors.append(f"{file}: {exc}")
            continue
        if not names:
            errors.append(f"{file}: no test_* rules")
        for name in names:
            results.append(_run_one(engine, file, package, name))
    return RegoTestReport(tuple(results), tuple(errors), _coverage(engine, {name for name, _ in production}))


def _run_one(engine: Any, file: str, package: str, name: str) -> RegoTestResult:
    query = f"data.{package}.{name}"
    try:
        answer = engine.eval_query(query)
    except Exception as exc:
        return RegoTestResult(file, package, name, False, short_error(exc))
    values = [e.get("value") for r in answer.get("result", []) for e in r.get("expressions", [])]
    if values == [True]:
        return RegoTestResult(file, package, name, True)
    return RegoTestResult(file, package, name, False, "undefined" if not values else f"= {values!r}")


def _coverage(engine: Any, files: set[str]) -> tuple[FileCoverage, ...]:
    try:
        report = json.loads(engine.get_coverage_report_as_json())
    except Exception:  # coverage is informative only; never fail a test run over it
        return ()
    return tuple(
        FileCoverage(f["path"], len(f.get("covered", ())), tuple(sorted(f.get("not_covered", ()))))
        for f in report.get("files", ())
        if f.get("path") in files
    )


def format_report(report: RegoTestReport) -> list[str]:
    """Human-readable lines: one per test, then any load errors, then a summary."""
    lines = [
        f"{'PASS' if r.passed else 'FAIL'} {r.file}: {r.query}" + (f" ({r.error})" if r.error else "")
        for r in report.results
    ]
    lines.extend(f"ERROR {e}" for e in report.errors)
    for c in report.coverage:
        total_lines = c.covered + len(c.not_covered)
        missing = f", not covered: lines {', '.join(map(str, c.not_covered))}" if c.not_covered else ""
        lines.append(f"coverage {c.file}: {c.covered}/{total_lines} lines{missing}")
    total = len(report.results)
    lines.append(
        f"{'ok' if report.ok else 'FAILED'}: {report.passed}/{total} passed"
        + (f", {len(report.failed)} failed" if report.failed else "")
        + (f", {len(report.errors)} errors" if report.errors else "")
    )
    return lines
