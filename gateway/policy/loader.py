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
    source: PolicySource | None = None,
) -> PolicyEngine:
    """The configured engine, behind the decision cache unless GATEWAY_POLICY_CACHE_SIZE=0.

    ``source`` (a policy already read, gateway/policy/source.py: what the caller goes on to store)
    overrides GATEWAY_POLICY_DIR.

    A ``source`` must have been read or stored under ``catalogue_ids``: a revision IG activated under
    another field catalogue is refused, never re-derived under this one (its log entries would name a
    revision nobody stored or signed off) nor served as stored (a field it does not know would be
    neither released nor withheld by its decisions: the renderer withholds it, since it releases only
    what a decision released (``Projection.released``), but no decision would name the field or say why
    it was withheld, and no IG sign-off covered it).
    """
    if source is not None and source.catalogue_ids != tuple(catalogue_ids):
        gained = sorted(set(catalogue_ids) - set(source.catalogue_ids))
        lost = sorted(set(source.catalogue_ids) - set(catalogue_ids))
        raise PolicyLoadError(
            f"policy revision {source.revision} was stored under another field catalogue "
            f"(this one adds {', '.join(gained) or 'nothing'}; drops {', '.join(lost) or 'nothing'}, or reorders it): "
            "store and activate a revision for this catalogue (`ld-gateway policy store`, `policy activate`)"
        )
    policy: Path | PolicySource = source or settings.resolved_policy_dir()
    engine: PolicyEngine
    if settings.policy_engine is PolicyEngineKind.EMBEDDED:
        engine = EmbeddedRegoEngine(policy, catalogue_ids)
    else:
        if not settings.opa_url:
            raise PolicyLoadError("GATEWAY_POLICY_ENGINE=opa needs GATEWAY_OPA_URL")
        from gateway.policy.opa import OpaEngine

        engine = OpaEngine(settings.opa_url, policy, catalogue_ids, timeout=settings.opa_timeout)
    return CachingEngine(engine, settings.policy_cache_size) if settings.policy_cache_size else engine
