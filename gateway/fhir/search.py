"""The Bundle search parameters this server understands (FHIR R4 "Search", sections 3.1.1.4-3.1.1.5).

- ``composition.patient.identifier=SYSTEM|VALUE``: the standard ``composition`` reference parameter
  of Bundle (``Bundle.entry[0].resource``) chained to Composition's ``patient``, then Patient's
  ``identifier`` token. ``patient.identifier`` is accepted as an alias (earlier clients used it).
  Exactly one identifier, with its system: a person is found only by an identifier the gateway can
  check, never by a bare value.
- ``_count``: at most this many documents (the server may return fewer, never more); every match
  fits in one page otherwise, so there is no paging.
- ``_format``: JSON only (``json``, ``application/json``, ``application/fhir+json``); anything else
  is 406 Not Acceptable.
Any other parameter is refused (400) rather than ignored: an ignored filter would return more than
the caller asked for.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.issue import Issue

IDENTIFIER = "composition.patient.identifier"
IDENTIFIER_ALIAS = "patient.identifier"
COUNT = "_count"
FORMAT = "_format"
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
MAX_COUNT = 100
_DIGITS = re.compile(r"[0-9]{1,3}")


@dataclass(frozen=True)
class BundleSearch:
    system: str
    value: str
    count: int | None


def parse_bundle_search(params: Iterable[tuple[str, str]]) -> BundleSearch | tuple[int, list[Issue]]:
    """The search, or the HTTP status and every problem with it."""
    identifiers: list[str] = []
    counts: list[str] = []
    formats: list[str] = []
    problems: list[Issue] = []
    for name, value in params:
        if name in (IDENTIFIER, IDENTIFIER_ALIAS):
            identifiers.append(value)
        elif name == COUNT:
            counts.append(value)
        elif name == FORMAT:
            formats.append(value)
        elif not any(p.expression == name for p in problems):
            problems.append(Issue("not-supported", f"search parameter {name} is not supported", name))
    if len(identifiers) != 1 or "|" not in identifiers[0] or identifiers[0].startswith("|"):
        problems.append(Issue("required", f"give exactly one {IDENTIFIER} as SYSTEM|VALUE", IDENTIFIER))
    count = None
    if counts:
        if len(counts) > 1 or not _DIGITS.fullmatch(counts[0]) or not 1 <= int(counts[0]) <= MAX_COUNT:
            problems.append(Issue("value", f"{COUNT} must be one whole number from 1 to {MAX_COUNT}", COUNT))
        else:
            count = int(counts[0])
    if any(f.strip().lower() not in JSON_FORMATS for f in formats) and not problems:
        return 406, [Issue("not-supported", "only JSON is served (_format=json)", FORMAT)]
    if problems:
        return 400, problems
    system, _, value = identifiers[0].partition("|")
    return BundleSearch(system, value, count)
