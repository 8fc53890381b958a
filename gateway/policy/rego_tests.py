"""Running the Rego unit tests (``policies/*_test.rego``): the engine behind ``ld-gateway policy test``.

The tests run on regorus, never on regopy: rego-cpp crashes the whole process on tests that use
``with input as``. Each ``test_*`` rule is evaluated on its own, so one failing or erroring test
never hides another; a test passes only when it evaluates to ``true``.

A run also fails when a **rule is never exercised**. "Rule" means, concretely:

* every rule *definition* in a production module (each ``name ... if { ... }`` at the top level; a
  name with several definitions counts each one): exercised when the tests evaluated every line of
  its body, so each of its conditions but the last held at least once (regorus line coverage);
* every *policy data rule*: each id in ``data.gateway.rules`` (the reasons a field is withheld), each
  denial in ``deny_precedence``, each override basis in ``override_bases`` and each lawful basis in
  ``lawful_bases``: exercised when some test case's decision names it.

Test cases are the inputs the tests pass to the decision: the tests' ``decide`` helper prints each one
(``print("ld-gateway:case", json.marshal(req))``), and the runner collects them. They are also what the
differential test replays on the gateway's engine and on regopy (tests/policy/test_differential.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regorus

from gateway.policy.engine import PolicyLoadError, short_error
from gateway.policy.source import PolicySource, read_policy

CASE_MARKER = "ld-gateway:case "
DECISION_QUERY = "data.gateway.disclosure.decision"

_RULE_START = re.compile(r"^(?!package\b|import\b|default\b)([A-Za-z_][A-Za-z0-9_]*)\b")
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
    covered_lines: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class RegoTestReport:
    results: tuple[RegoTestResult, ...]
    errors: tuple[str, ...] = ()
    coverage: tuple[FileCoverage, ...] = ()
    cases: tuple[dict[str, Any], ...] = ()
    rules: tuple[str, ...] = ()
    unexercised: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there were tests, all passed, nothing failed to load, and every rule was exercised."""
        return (
            bool(self.results)
            and not self.errors
            and all(r.passed for r in self.results)
            and bool(self.rules)
            and not self.unexercised
        )

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


def run_rego_tests(policy: Path | PolicySource, catalogue_ids: Sequence[str]) -> RegoTestReport:
    """Run each test of ``policy``. A directory is read here, once: production modules, data and tests
    (gateway/policy/source.py, the reader the engines use). A source already read is run as it is: read
    it ``with_tests``, or it has no tests to run."""
    try:
        if isinstance(policy, PolicySource):
            source = policy.for_catalogue(catalogue_ids)
        else:
            source = read_policy(Path(policy), catalogue_ids, with_tests=True)
    except PolicyLoadError as exc:
        return RegoTestReport((), (str(exc),))
    return _run(source)


def _run(policy: PolicySource) -> RegoTestReport:
    policy_dir, data, production, tests = policy.directory, policy.data, policy.modules, policy.tests
    if not tests:
        return RegoTestReport((), (f"{policy_dir}: no Rego unit tests (*_test.rego) found",))

    engine = regorus.Engine()
    engine.set_enable_coverage(True)
    engine.set_gather_prints(True)
    engine.add_data(dict(data))
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
    coverage = _coverage(engine, {name for name, _ in production})
    cases = _cases(engine.take_prints())
    definitions = [d for name, source in production for d in rule_definitions(name, source)]
    data_rules = _data_rules(data)
    named = _named_in_decisions(engine, cases)
    unexercised = [label for label, lines in definitions if not _exercised(lines, coverage, label)]
    unexercised += [f"data rule {kind} {rule_id}" for kind, rule_id in data_rules if rule_id not in named]
    rules = tuple(label for label, _ in definitions) + tuple(f"data rule {k} {r}" for k, r in data_rules)
    return RegoTestReport(tuple(results), tuple(errors), coverage, cases, rules, tuple(unexercised))


def rule_definitions(file: str, source: str) -> list[tuple[str, tuple[int, ...]]]:
    """``("file:line name", lines)`` for each top-level rule definition of a module."""
    out: list[tuple[str, list[int]]] = []
    for number, line in enumerate(source.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() or line[0] in "}])":
            if out:
                out[-1][1].append(number)
            continue
        match = _RULE_START.match(line)
        if match:
            out.append((f"{file}:{number} {match.group(1)}", [number]))
        else:
            # package, import and default (a constant, nothing to exercise) close the previous rule.
            out.append(("", []))
    return [(label, tuple(lines)) for label, lines in out if label]


def _exercised(lines: Sequence[int], coverage: Sequence[FileCoverage], label: str) -> bool:
    file = label.split(":", 1)[0]
    report = next((c for c in coverage if c.file == file), None)
    if report is None:
        return False
    return not set(lines) & set(report.not_covered) and bool(set(lines) & set(report.covered_lines))


def _cases(prints: Sequence[str]) -> tuple[dict[str, Any], ...]:
    seen: dict[str, dict[str, Any]] = {}
    for line in prints:
        _, sep, payload = line.partition(CASE_MARKER)
        if not sep:
            continue
        try:
            case = json.loads(payload)
        except ValueError:
            continue
        if isinstance(case, dict):
            seen.setdefault(json.dumps(case, sort_keys=True), case)
    return tuple(seen[k] for k in sorted(seen))


def _data_rules(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    gateway = data.get("gateway", {})
    rules = [("withholding", r.get("id")) for r in gateway.get("rules", ()) if isinstance(r, Mapping)]
    rules += [("denial", r) for r in gateway.get("deny_precedence", ())]
    rules += [("override-basis", b) for b in gateway.get("override_bases", ())]
    rules += [("lawful-basis", b) for b in gateway.get("lawful_bases", {})]
    return [(kind, rule_id) for kind, rule_id in rules if isinstance(rule_id, str)]


def _decide(engine: Any, case: Mapping[str, Any]) -> Any:
    try:
        engine.set_input_json(json.dumps(case))
        answer = engine.eval_query(DECISION_QUERY)
    except Exception:
        return None
    values = [e.get("value") for r in answer.get("result", []) for e in r.get("expressions", [])]
    return values[0] if len(values) == 1 else None


def _names(items: Any, key: str) -> set[str]:
    """The string ``key`` of each mapping in ``items`` (a decision's withheld fields or overrides)."""
    return {item[key] for item in items if isinstance(item, Mapping) and isinstance(item.get(key), str)}


def _named_in_decisions(engine: Any, cases: Sequence[Mapping[str, Any]]) -> set[str]:
    """Every withholding rule, denial, override basis and lawful basis some test case's decision names."""
    named: set[str] = set()
    for case in cases:
        decision = _decide(engine, case)
        if not isinstance(decision, Mapping):  # a case the policy cannot decide names nothing
            continue
        named.update(_names(decision.get("withheld", ()), "rule"))
        named.update(_names(decision.get("overrides", ()), "basis"))
        named.update(_names(decision.get("lawful_basis", ()), "basis"))
        if isinstance(decision.get("deny_reason"), str):
            named.add(decision["deny_reason"])
    return named


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
        FileCoverage(
            f["path"],
            len(f.get("covered", ())),
            tuple(sorted(f.get("not_covered", ()))),
            tuple(sorted(f.get("covered", ()))),
        )
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
    lines.extend(f"UNEXERCISED {rule}" for rule in report.unexercised)
    if report.rules:
        exercised = len(report.rules) - len(report.unexercised)
        lines.append(f"rules exercised: {exercised}/{len(report.rules)} ({len(report.cases)} test case inputs)")
    total = len(report.results)
    lines.append(
        f"{'ok' if report.ok else 'FAILED'}: {report.passed}/{total} passed"
        + (f", {len(report.failed)} failed" if report.failed else "")
        + (f", {len(report.errors)} errors" if report.errors else "")
        + (f", {len(report.unexercised)} rules never exercised" if report.unexercised else "")
    )
    return lines
