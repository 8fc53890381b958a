"""A refused use case, as the service answers it: :class:`Denied` with :class:`Why`, for the route to translate.

One value for every service that answers a refusal instead of raising it (court requests, overrides):
``why`` is the only thing a route turns into an HTTP status, ``problems`` become the OperationOutcome,
and a refusal the service logged (rolled back first, :func:`gateway.db.unit_of_work.run_or_refuse`) also
carries the log's fixed ``reason`` and its entry's ``disclosure_id``. Services never choose a status and
routes never decide a refusal.

Like :mod:`gateway.issue` it sits at the bottom of the package, importing nothing of the gateway but it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from gateway.issue import Issue


class Why(StrEnum):
    """Why a call was refused; the route alone turns it into an HTTP status."""

    MALFORMED = "malformed"  # not a request this API understands (a bad patch, an unknown search value)
    FORBIDDEN = "forbidden"  # the caller may not do this
    NOT_FOUND = "not-found"  # no such thing, or not one the caller may see or change: the same answer
    CONFLICT = "conflict"  # it changed since the caller read it (If-Match)
    INVALID = "invalid"  # understood, but not valid


@dataclass(frozen=True)
class Denied:
    """A refused call. Nothing of it was written; when it was logged, ``reason`` is the log's fixed reason
    code and ``disclosure_id`` names the entry."""

    why: Why
    reason: str | None = None
    problems: list[Issue] = field(default_factory=list)
    disclosure_id: str | None = None


class Refusal(Exception):
    """A refusal raised inside a unit of work: why (for the status), its issues for the OperationOutcome, and
    the log's fixed reason. :func:`gateway.db.unit_of_work.run_or_refuse` rolls the work back, and the
    service logs the refusal on its own and answers it as :class:`Denied` (:meth:`denied`)."""

    def __init__(self, why: Why, problems: Sequence[Issue], reason: str) -> None:
        super().__init__(reason)
        self.why = why
        self.problems = list(problems)
        self.reason = reason

    def denied(self, disclosure_id: str | None) -> Denied:
        return Denied(self.why, self.reason, self.problems, disclosure_id)
