"""What a request call answers: :class:`Released`, or :class:`Denied` for a :class:`Refusal` that the service
rolled back and logged with its fixed reason; the route turns ``Denied.why`` into a status and an
OperationOutcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from gateway.issue import Issue

NOT_FOUND_TEXT = "No request with this id is available to you."
UNKNOWN_PERSON_TEXT = "No person on record matches the person named in Task.for."


class Why(StrEnum):
    """Why a call was refused; the route alone turns it into an HTTP status."""

    MALFORMED = "malformed"  # not a request this API understands (a bad patch, an unknown search value)
    FORBIDDEN = "forbidden"  # the caller may not do this
    NOT_FOUND = "not-found"  # no such Task, or not one the caller is a party to: the same answer
    CONFLICT = "conflict"  # the Task changed since the caller read it (If-Match)
    INVALID = "invalid"  # understood, but not a valid Task or change


@dataclass(frozen=True)
class Released:
    """A call carried out: the resource (or Bundle) it answers with; ``created`` when it made a new Task."""

    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    created: bool = False


@dataclass(frozen=True)
class Denied:
    """A refused call, already rolled back and logged (``disclosure_id`` names its log entry)."""

    why: Why
    reason: str  # the log's fixed reason code
    problems: list[Issue]
    disclosure_id: str


class Refusal(Exception):
    """A refused call: why (for the status), its issues for the OperationOutcome, and the log's fixed reason."""

    def __init__(self, why: Why, problems: Sequence[Issue], reason: str) -> None:
        super().__init__(reason)
        self.why = why
        self.problems = list(problems)
        self.reason = reason


def not_found(reason: str) -> Refusal:
    """The one answer for a Task the caller may not see, whatever the reason (kept for the log)."""
    return Refusal(Why.NOT_FOUND, [Issue("not-found", NOT_FOUND_TEXT)], reason)
