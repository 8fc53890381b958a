"""What a disclosure's log entry says of its lawful basis (pure: no I/O).

The policy names the basis (consent, a best-interests decision, the process minimum, or each lawful
override relied on, with its statute: data "lawful_bases"). An override's entry adds what IG must be
able to hold the practitioner to, inside the hashed entry: who recorded it, when it expires and the
SHA-256 of the reason (the reason itself stays encrypted beside the log, so erasing the person leaves
the log verifiable).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.overrides.store import log_record
from gateway.policy.decision import Decision
from gateway.policy.input import OverrideFacts


def log_items(decision: Decision, overrides: Sequence[OverrideFacts]) -> tuple[dict[str, Any], ...]:
    """One item per basis the decision rests on; none for a denial."""
    if not decision.allowed:
        return ()
    by_id = {o.id: o for o in overrides}
    items = []
    for basis in decision.lawful_basis:
        item: dict[str, Any] = {"basis": basis.basis, "statute": basis.statute}
        if basis.override_id is not None:
            item["override_id"] = basis.override_id
            facts = by_id.get(basis.override_id)
            if facts is not None:
                item.update(log_record(facts.recorded_by, facts.expires_at, facts.reason_sha256))
        items.append(item)
    return tuple(items)
