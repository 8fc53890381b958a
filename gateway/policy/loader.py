"""Choosing the policy engine from settings (GATEWAY_POLICY_ENGINE)."""

from __future__ import annotations

import logging
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

    A ``source`` is served under the field catalogue it was read or stored under, not ``catalogue_ids``:
    an activated revision decides exactly as IG activated it, and every log entry names that stored
    revision. A field the catalogue has gained since is decided by no rule, so it is released to no one
    (a disclosure is built up from released fields only) until a revision covering it is activated.
    """
    if source is not None and source.catalogue_ids != tuple(catalogue_ids):
        gained = sorted(set(catalogue_ids) - set(source.catalogue_ids))
        logging.getLogger("gateway.policy").warning(
            "the policy in force was stored under another field catalogue; fields it does not cover are "
            "released to no one until a revision covering them is activated",
            extra={"fields": {"policy_revision": source.revision, "uncovered_fields": gained}},
        )
    if source is not None:
        catalogue_ids = source.catalogue_ids
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
