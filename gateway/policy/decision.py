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
class OverrideUse:
    """A lawful override the decision relied on (consent did not cover the disclosure)."""

    id: str
    basis: str


@dataclass(frozen=True, slots=True)
class LawfulBasis:
    """What an allowed disclosure rests on, as the policy names it (data "lawful_bases"): ``consent``,
    ``best-interests``, ``process-minimum`` or an override basis (then with the override's id)."""

    basis: str
    statute: str
    override_id: str | None = None


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
    overrides: tuple[OverrideUse, ...] = field(default=())
    lawful_basis: tuple[LawfulBasis, ...] = field(default=())

    @property
    def needs_ig_review(self) -> bool:
        """Every disclosure made under a lawful override is flagged for IG review."""
        return self.allowed and bool(self.overrides)

    @classmethod
    def denied(cls, reason: str, *, policy_revision: str, decision_id: str, errors: tuple[str, ...] = ()) -> Decision:
        return cls(False, (), (), (), policy_revision, decision_id, reason, errors)
