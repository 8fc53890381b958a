"""The whole-gateway fixture lives in tests/fixtures/gateway.py and every test may ask for it; these
names stay importable from here for suites that import them."""

from __future__ import annotations

import pytest

from gateway.policy import EmbeddedRegoEngine
from tests.auth.conftest import KeyPair
from tests.fixtures.gateway import Gateway, Http, gateway

__all__ = ["Gateway", "Http", "gateway", "review_key", "review_rego"]


@pytest.fixture(scope="session")
def review_rego(gateway_policy: EmbeddedRegoEngine) -> EmbeddedRegoEngine:
    return gateway_policy


@pytest.fixture(scope="session")
def review_key(agency_key: KeyPair) -> KeyPair:
    return agency_key
