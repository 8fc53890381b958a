"""Policy fixtures: the real policies and catalogue, the engine and its regopy oracle loaded once per session,
tmp copies."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway.assessments.catalogue import load_catalogue
from gateway.policy import EmbeddedRegoEngine

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
def regopy_oracle(catalogue_ids: tuple[str, ...]) -> RegopyEngine:
    """The same policy on an independent interpreter (tests/policy/regopy_oracle.py)."""
    return RegopyEngine(POLICY_DIR, catalogue_ids)


@pytest.fixture
def policy_copy(tmp_path: Path) -> Path:
    """A private copy of policies/ to edit."""
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target)
    return target
