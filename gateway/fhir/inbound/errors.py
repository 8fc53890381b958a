"""What the inbound mapping reports: every problem with a document, each a :class:`gateway.issue.Issue`
(error severity) located by a FHIRPath-like expression (``Bundle.entry[3].resource.code.coding[0].system``).

Diagnostics are written by our code and never repeat submitted values (a refusal must not become a
second copy of the person's data).
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.issue import Issue


class InboundError(Exception):
    """The document cannot be mapped; ``problems`` lists every reason, in the order found."""

    def __init__(self, problems: Sequence[Issue]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)
