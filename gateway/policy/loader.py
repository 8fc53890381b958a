"""Choosing the policy engine from settings (GATEWAY_POLICY_ENGINE)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.config import PolicyEngineKind, Settings
from gateway.policy.cache import CachingEngine
from gateway.policy.engine import EmbeddedRegoEngine, PolicyEngine, PolicyLoadError


def load_engine(settings: Settings, catalogue_ids: Sequence[str], *, policy_dir: Path | None = None) -> PolicyEngine:
    """The configured engine, behind the decision cache unless GATEWAY_POLICY_CACHE_SIZE=0.

    ``policy_dir`` (the activated stored revision, when there is one) overrides GATEWAY_POLICY_DIR.
    """
    policy_dir = policy_dir or settings.resolved_policy_dir()
    engine: PolicyEngine
    if settings.policy_engine is PolicyEngineKind.EMBEDDED:
        engine = EmbeddedRegoEngine(policy_dir, catalogue_ids)
    else:
        if not settings.opa_url:
            raise PolicyLoadError("GATEWAY_POLICY_ENGINE=opa needs GATEWAY_OPA_URL")
        from gateway.policy.opa import OpaEngine

        engine = OpaEngine(settings.opa_url, policy_dir, catalogue_ids, timeout=settings.opa_timeout)
    return CachingEngine(engine, settings.policy_cache_size) if settings.policy_cache_size else engine
