"""What the inbound mapping reports: every problem with a document, each a :class:`gateway.issue.Issue`
(error severity) located by a FHIRPath-like expression (``Bundle.entry[3].resource.code.coding[0].system``).

Diagnostics are written by our code and never repeat submitted values (a refusal must not become a
second copy of the person's data).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gateway.issue import Issue


class InboundError(Exception):
    """The document cannot be mapped; ``problems`` lists every reason, in the order found.

    ``partial`` is what could be mapped (canonical assessment and origins), so that the caller can also
    report the content's own problems (a bad check digit) in the same answer; ``None`` when the body is
    not a Bundle at all.
    """

    def __init__(
        self, problems: Sequence[Issue], partial: tuple[dict[str, Any], Mapping[str, str]] | None = None
    ) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)
        self.partial = partial
