"""Choosing the policy engine from settings (GATEWAY_POLICY_ENGINE)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import PolicyEngineKind, Settings
from gateway.policy.cache import CachingEngine
from gateway.policy.engine import EmbeddedRegoEngine, PolicyEngine


def load_engine(settings: Settings, catalogue_ids: Sequence[str]) -> PolicyEngine:
    """The configured engine, behind the decision cache unless GATEWAY_POLICY_CACHE_SIZE=0."""
    if settings.policy_engine is PolicyEngineKind.EMBEDDED:
        engine: PolicyEngine = EmbeddedRegoEngine(settings.resolved_policy_dir(), catalogue_ids)
        return CachingEngine(engine, settings.policy_cache_size) if settings.policy_cache_size else engine
    # The remote OPA engine arrives with the policy issue; until then refuse to start rather than
    # run with a policy nobody configured.
    raise RuntimeError("GATEWAY_POLICY_ENGINE=opa is not available in this version; use 'embedded'")
