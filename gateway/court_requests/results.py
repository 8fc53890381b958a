"""What a request call answers: :class:`Released`, or :class:`~gateway.denied.Denied` for a :class:`Refusal`
that the service rolled back and logged with its fixed reason (every request refusal is logged, so its
``reason`` and ``disclosure_id`` are always set); the route turns ``Denied.why`` into a status and an
OperationOutcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.denied import Denied, Refusal, Why
from gateway.issue import Issue

__all__ = ["NOT_FOUND_TEXT", "UNKNOWN_PERSON_TEXT", "Denied", "Refusal", "Released", "Why", "not_found"]

NOT_FOUND_TEXT = "No request with this id is available to you."
UNKNOWN_PERSON_TEXT = "No person on record matches the person named in Task.for."


@dataclass(frozen=True)
class Released:
    """A call carried out: the resource (or Bundle) it answers with; ``created`` when it made a new Task."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    created: bool = False


def not_found(reason: str) -> Refusal:
    """The one answer for a Task the caller may not see, whatever the reason (kept for the log)."""
    return Refusal(Why.NOT_FOUND, [Issue("not-found", NOT_FOUND_TEXT)], reason)
