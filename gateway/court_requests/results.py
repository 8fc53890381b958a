"""What a request call answers: a :class:`TaskResult`, or a :class:`Refusal` that the service rolls back,
logs with its fixed reason and answers as an OperationOutcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.issue import Issue

NOT_FOUND_TEXT = "No request with this id is available to you."
UNKNOWN_PERSON_TEXT = "No person on record matches the person named in Task.for."


@dataclass(frozen=True)
class TaskResult:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class Refusal(Exception):
    """A refused call: its HTTP status, its issues for the OperationOutcome, and the log's fixed reason."""

    def __init__(self, status: int, problems: Sequence[Issue], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.problems = list(problems)
        self.reason = reason


def not_found(reason: str) -> Refusal:
    """The one answer for a Task the caller may not see, whatever the reason (kept for the log)."""
    return Refusal(404, [Issue("not-found", NOT_FOUND_TEXT)], reason)
