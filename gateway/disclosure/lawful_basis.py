"""What a disclosure's log entry says of its lawful basis (pure: no I/O).

The policy names the basis (consent, a best-interests decision, the process minimum, or each lawful
override relied on, with its statute: data "lawful_bases"). An override's entry adds what IG must be
able to hold the practitioner to, inside the hashed entry: when it expires (UTC) and commitments to who
recorded it and why, keyed by the subject's data key (gateway.overrides.commitment): the values stay
in lawful_overrides, so erasing the person leaves the log verifiable and holding nothing personal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.overrides.commitment import log_record
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
                item.update(log_record(facts.expires_at, facts.recorded_by_hmac, facts.reason_hmac))
        items.append(item)
    return tuple(items)
