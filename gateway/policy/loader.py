"""Choosing the policy engine from settings (GATEWAY_POLICY_ENGINE)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from gateway.config import PolicyEngineKind, Settings
from gateway.policy.cache import CachingEngine
from gateway.policy.engine import EmbeddedRegoEngine, PolicyEngine, PolicyLoadError
from gateway.policy.source import PolicySource


def load_engine(
    settings: Settings,
    catalogue_ids: Sequence[str],
    *,
    policy_dir: Path | None = None,
    source: PolicySource | None = None,
) -> PolicyEngine:
    """The configured engine, behind the decision cache unless GATEWAY_POLICY_CACHE_SIZE=0.

    ``source`` (a policy already read, gateway/policy/source.py: what the caller goes on to store) or
    ``policy_dir`` (the activated stored revision, when there is one) overrides GATEWAY_POLICY_DIR.
    """
    policy: Path | PolicySource = source or policy_dir or settings.resolved_policy_dir()
    engine: PolicyEngine
    if settings.policy_engine is PolicyEngineKind.EMBEDDED:
        engine = EmbeddedRegoEngine(policy, catalogue_ids)
    else:
        if not settings.opa_url:
            raise PolicyLoadError("GATEWAY_POLICY_ENGINE=opa needs GATEWAY_OPA_URL")
        from gateway.policy.opa import OpaEngine

        engine = OpaEngine(settings.opa_url, policy, catalogue_ids, timeout=settings.opa_timeout)
    return CachingEngine(engine, settings.policy_cache_size) if settings.policy_cache_size else engine
