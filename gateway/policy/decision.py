"""Policy decisions as values with reasons.

An engine answers with a :class:`Decision`. Anything it cannot answer cleanly (an error, an undefined
or malformed result, a timeout) becomes a denial: callers never see an exception instead of a decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Withheld:
    field: str
    rule: str
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    released: tuple[str, ...]
    withheld: tuple[Withheld, ...]
    obligations: tuple[str, ...]
    policy_revision: str
    decision_id: str
    deny_reason: str | None = None
    errors: tuple[str, ...] = field(default=())

    @classmethod
    def denied(cls, reason: str, *, policy_revision: str, decision_id: str, errors: tuple[str, ...] = ()) -> Decision:
        return cls(False, (), (), (), policy_revision, decision_id, reason, errors)
