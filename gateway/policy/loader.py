"""Choosing the policy engine from settings (GATEWAY_POLICY_ENGINE)."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.config import PolicyEngineKind, Settings
from gateway.policy.engine import EmbeddedRegoEngine, PolicyEngine


def load_engine(settings: Settings, catalogue_ids: Sequence[str]) -> PolicyEngine:
    if settings.policy_engine is PolicyEngineKind.EMBEDDED:
        return EmbeddedRegoEngine(settings.resolved_policy_dir(), catalogue_ids)
    # The remote OPA engine arrives with the policy issue; until then refuse to start rather than
    # run with a policy nobody configured.
    raise RuntimeError("GATEWAY_POLICY_ENGINE=opa is not available in this version; use 'embedded'")
