"""A decision cache in front of any :class:`PolicyEngine`.

Keyed by the policy revision and the canonical JSON of the whole input. The input is exactly the facts
a decision rests on (gateway/policy/input.py: recipient, purpose, age group, the consent as published,
and the lawful overrides in force at the decision's instant), so a changed consent, a new or expired
override, or a new policy revision is a different key: the cache can never serve a stale decision.
It stores nothing personal (the input carries none).

Each hit is returned under a fresh ``decision_id``: every disclosure is logged under its own decision.
Denials caused by engine errors are never cached (an error may be transient); the policy's own
denials are, like any other answer.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from gateway.json_bytes import canonical_json
from gateway.policy.decision import Decision
from gateway.policy.engine import PolicyEngine, engine_failed


class CachingEngine:
    """LRU cache of decisions; the same interface as the engine it wraps."""

    def __init__(self, inner: PolicyEngine, maxsize: int = 4096) -> None:
        if maxsize < 1:
            raise ValueError("a decision cache needs room for at least one decision")
        self.inner = inner
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[str, bytes], Decision] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def revision(self) -> str:
        return self.inner.revision

    @property
    def catalogue_ids(self) -> Any:
        return getattr(self.inner, "catalogue_ids", None)

    def decide(self, policy_input: Mapping[str, Any]) -> Decision:
        try:
            key = (self.inner.revision, canonical_json(policy_input))
        except (TypeError, ValueError):
            return self.inner.decide(policy_input)  # not JSON: let the engine deny it, uncached
        with self._lock:
            cached = self._entries.get(key)
            if cached is not None:
                self._entries.move_to_end(key)
                self.hits += 1
        if cached is not None:
            return replace(cached, decision_id=str(uuid.uuid4()))
        decision = self.inner.decide(policy_input)
        with self._lock:
            self.misses += 1
            if not engine_failed(decision):
                self._entries[key] = decision
                self._entries.move_to_end(key)
                while len(self._entries) > self.maxsize:
                    self._entries.popitem(last=False)
        return decision

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
