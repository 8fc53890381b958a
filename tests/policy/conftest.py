"""Policy fixtures: the real policies and catalogue, the engine and its regopy oracle loaded once per session,
tmp copies.

``cached_engine`` is the production engine behind the production decision cache, as the gateway runs it
(gateway/policy/loader.py), shared by the session: the tests of what the policy decides (the matrix and
its outputs, the domain table, the editions, the properties) ask it, so the 240 matrix cells and any
other input already decided are not evaluated again in every file. A cached answer is the engine's own
(the cache keys on the revision and the whole input; gateway/policy/cache.py). The tests of an engine
itself (compilation, errors, the engine against its oracle, the matrix against ``decide``) use ``engine``.
``rego_report`` is the production policy's own Rego unit tests, run once: test_rego_unit reads the report and
the differential test replays the inputs it collected.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import EmbeddedRegoEngine, RegoTestReport, run_rego_tests
from gateway.policy.cache import CachingEngine

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
def rego_report(catalogue_ids: tuple[str, ...]) -> RegoTestReport:
    """``ld-gateway policy test`` on policies/, run once per session."""
    return run_rego_tests(POLICY_DIR, catalogue_ids)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of policies/ to edit."""
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target
