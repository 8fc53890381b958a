"""Policy fixtures: the real policies and catalogue, the engine and its regopy oracle loaded once per session,
tmp copies.

``cached_engine`` is the production engine behind the production decision cache, as the gateway runs it
(gateway/policy/loader.py), shared by the session: the tests of what the policy decides (the matrix and
its outputs, the domain table, the editions, the properties) ask it, so the 240 matrix cells and any
other input already decided are not evaluated again in every file. A cached answer is the engine's own
(the cache keys on the revision and the whole input; gateway/policy/cache.py). The tests of an engine
itself (compilation, errors, the engine against its oracle, the matrix against ``decide``) use ``engine``.
``rego_report`` is the production policy's own Rego unit tests, run once: test_rego_unit reads the report and
the differential test replays the inputs it collected. ``rego_reports`` runs a policy's Rego unit tests
once per session for each policy it is given, keyed by its bytes (tests/policy/rego_reports.py); the
product's ``run_rego_tests`` keeps nothing between runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import EmbeddedRegoEngine, RegoTestReport
from gateway.policy.cache import CachingEngine

from .rego_reports import RegoReports
from .regopy_oracle import RegopyEngine

ROOT = Path(__file__).resolve().parents[2]
POLICY_DIR = ROOT / "policies"
CATALOGUE_FILE = ROOT / "schemas" / "field-catalogue.json"


@pytest.fixture(scope="session")
def catalogue_ids() -> tuple[str, ...]:
    return load_catalogue(CATALOGUE_FILE).ids


@pytest.fixture(scope="session")
def engine(catalogue_ids: tuple[str, ...]) -> EmbeddedRegoEngine:
    return EmbeddedRegoEngine(POLICY_DIR, catalogue_ids)


@pytest.fixture(scope="session")
def cached_engine(engine: EmbeddedRegoEngine) -> CachingEngine:
    # Room for every input a session decides: nothing is evicted and decided twice.
    return CachingEngine(engine, maxsize=1_000_000)


@pytest.fixture(scope="session")
def regopy_oracle(catalogue_ids: tuple[str, ...]) -> RegopyEngine:
    """The same policy on an independent interpreter (tests/policy/regopy_oracle.py)."""
    return RegopyEngine(POLICY_DIR, catalogue_ids)


@pytest.fixture(scope="session")
def rego_reports() -> RegoReports:
    return RegoReports()


@pytest.fixture(scope="session")
def rego_report(rego_reports: RegoReports, catalogue_ids: tuple[str, ...]) -> RegoTestReport:
    """``ld-gateway policy test`` on policies/, run once per session."""
    return rego_reports(POLICY_DIR, catalogue_ids)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of policies/ to edit."""
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target


@pytest.fixture
def tiny_policy(tmp_path: Path) -> Path:
    """A policy of one rule and one Rego test (which passes and prints one case): for tests of when the
    Rego tests run, not of what they say."""
    target = tmp_path / "tiny"
    target.mkdir()
    (target / "data.json").write_text('{"gateway": {}}')
    (target / "tiny.rego").write_text(
        'package gateway.disclosure\n\nimport rego.v1\n\ndecision := {"allow": input.purpose == "charging"}\n'
    )
    (target / "tiny_test.rego").write_text(
        "package gateway.disclosure_test\n\nimport rego.v1\n\nimport data.gateway.disclosure\n\n"
        "test_decides if {\n"
        '\tprint("ld-gateway:case", json.marshal({"purpose": "charging"}))\n'
        '\tdisclosure.decision.allow with input as {"purpose": "charging"}\n'
        "}\n"
    )
    return target
