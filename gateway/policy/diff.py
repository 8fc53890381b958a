"""``ld-gateway policy diff A B``: whose view of which field changes between two policies.

Both policies are asked every matrix question (agency type x purpose x consent state x age group);
a change is a field released by one and not the other, or a question answered by one and refused by
the other. Computed from decisions, never from the files, so a change in how rules combine shows up
as surely as a change in the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.policy.decision import Decision

Cell = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class ViewChange:
    agency_type: str
    purpose: str
    consent: str
    age_group: str
    released: tuple[str, ...]  # fields B releases that A did not
    withheld: tuple[str, ...]  # fields A released that B does not
    refusal: str | None = None  # "now refused: <reason>" or "no longer refused"

    def as_json(self) -> dict[str, object]:
        return {
            "agency_type": self.agency_type,
            "purpose": self.purpose,
            "consent": self.consent,
            "age_group": self.age_group,
            "released": list(self.released),
            "withheld": list(self.withheld),
            "refusal": self.refusal,
        }


def diff_decisions(a: Sequence[tuple[Cell, Decision]], b: Sequence[tuple[Cell, Decision]]) -> list[ViewChange]:
    """The changes from ``a`` to ``b``, in matrix order; cells present in only one side are ignored."""
    b_by_cell = dict(b)
    changes = []
    for cell, before in a:
        after = b_by_cell.get(cell)
        if after is None:
            continue
        gained = tuple(sorted(set(after.released) - set(before.released)))
        lost = tuple(sorted(set(before.released) - set(after.released)))
        refusal = None
        if before.allowed and not after.allowed:
            refusal = f"now refused: {after.deny_reason}"
        elif after.allowed and not before.allowed:
            refusal = "no longer refused"
        if gained or lost or refusal:
            changes.append(ViewChange(*cell, released=gained, withheld=lost, refusal=refusal))
    return changes


def format_diff(changes: Sequence[ViewChange]) -> list[str]:
    if not changes:
        return ["No one's view changes."]
    lines = []
    for c in changes:
        head = f"{c.agency_type} at {c.purpose}, {c.age_group}, consent {c.consent}:"
        parts = [f"+{f}" for f in c.released] + [f"-{f}" for f in c.withheld]
        if c.refusal:
            parts.append(f"({c.refusal})")
        lines.append(f"{head} {' '.join(parts)}")
    return lines
