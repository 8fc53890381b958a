"""The disclosure matrix as a compact grid for an 80-column terminal (``ld-gateway policy matrix``).

One grid: a row per field (in the catalogue's order, so by section), a column per agency type and
purpose it may use. A cell says in one character whether the field is released in every case (``●``), in none
(``·``), or only for some consent states or age groups (a digit, explained in the key underneath: the
consent states and age groups in which it is released). Purposes an agency type is refused outright
have no column; a line underneath names them. The full table is ``--wide``; the data is ``--json`` or ``--csv``.

Pure: it takes the matrix rows (:func:`gateway.policy.matrix.compute_matrix`) and returns lines.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

ALWAYS = "●"
NEVER = "·"
_DIGITS = "123456789abcdefghijklmnopqrstuvwxyz"

Cell = tuple[str, str]  # (consent, age group)


def purpose_abbreviations(purposes: Sequence[str]) -> dict[str, str]:
    """Two-letter column heads: the initials of a hyphenated purpose, else its first two letters
    (lengthened until every head is unique)."""
    heads: dict[str, str] = {}
    for purpose in purposes:
        parts = purpose.split("-")
        head = "".join(p[0] for p in parts) if len(parts) > 1 else purpose[:2]
        size = 2
        while head.upper() in heads.values():
            size += 1
            head = purpose[:size]
        heads[purpose] = head.upper()
    return heads


def _describe(cells: frozenset[Cell], consents: Sequence[str], ages: Sequence[str]) -> str:
    """A released pattern in words: for each age group, the consent states in which the field is released."""
    by_age = {age: [c for c in consents if (c, age) in cells] for age in ages}
    if all(by_age[age] == by_age[ages[0]] for age in ages):
        return f"when consent is {' or '.join(by_age[ages[0]])}"
    parts = []
    for age in ages:
        given = by_age[age]
        if not given:
            parts.append(f"never for a{'n' if age[0] in 'aeiou' else ''} {age}")
        elif len(given) == len(consents):
            parts.append(f"always for a{'n' if age[0] in 'aeiou' else ''} {age}")
        else:
            parts.append(f"for a{'n' if age[0] in 'aeiou' else ''} {age} when consent is {' or '.join(given)}")
    return "; ".join(parts)


def format_grid(
    rows: Sequence[Mapping[str, Any]],
    field_order: Sequence[str],
    *,
    width: int = 80,
) -> list[str]:
    """The grid's lines, none longer than ``width`` (agency types spill into a second grid if needed)."""
    agencies = list(dict.fromkeys(r["agency_type"] for r in rows))
    purposes = list(dict.fromkeys(r["purpose"] for r in rows))
    consents = list(dict.fromkeys(r["consent"] for r in rows))
    ages = list(dict.fromkeys(r["age_group"] for r in rows))
    heads = purpose_abbreviations(purposes)
    every_cell = frozenset((c, g) for c in consents for g in ages)

    released: dict[tuple[str, str, str], set[Cell]] = {}
    allowed: dict[str, list[str]] = {a: [] for a in agencies}
    for row in rows:
        if row["released"] and row["purpose"] not in allowed[row["agency_type"]]:
            allowed[row["agency_type"]].append(row["purpose"])
        for field in row["released"]:
            released.setdefault((row["agency_type"], row["purpose"], field), set()).add(
                (row["consent"], row["age_group"])
            )
    for agency in agencies:
        allowed[agency].sort(key=purposes.index)

    patterns: dict[frozenset[Cell], str] = {}

    def symbol(agency: str, purpose: str, field: str) -> str:
        cells = frozenset(released.get((agency, purpose, field), ()))
        if not cells:
            return NEVER
        if cells == every_cell:
            return ALWAYS
        if cells not in patterns:
            patterns[cells] = _DIGITS[len(patterns) % len(_DIGITS)]
        return patterns[cells]

    label = max((len(f) for f in field_order), default=5) + 1
    shown = [a for a in agencies if allowed[a]]
    group_width = {a: max(len(a), 3 * len(allowed[a]) - 1) + 2 for a in shown}
    chunks: list[list[str]] = [[]]
    for agency in shown:
        if chunks[-1] and label + sum(group_width[a] for a in chunks[-1]) + group_width[agency] > width:
            chunks.append([])
        chunks[-1].append(agency)

    lines = _wrap("Which fields each agency type sees, by purpose of use.", width)
    lines += _wrap("Purposes: " + ", ".join(f"{h} {p}" for p, h in heads.items()) + ".", width)
    lines += _wrap(f"{ALWAYS} always released   {NEVER} never   1, 2... only in some cases (key below)", width)
    for chunk in chunks:
        top = " " * label + "".join(a.ljust(group_width[a]) for a in chunk)
        sub = "field".ljust(label) + "".join(
            " ".join(f"{heads[p]:<2}" for p in allowed[a]).ljust(group_width[a]) for a in chunk
        )
        lines += ["", top, sub]
        for field in field_order:
            marks = "".join(
                " ".join(f"{symbol(a, p, field):<2}" for p in allowed[a]).ljust(group_width[a]) for a in chunk
            )
            lines.append(field.ljust(label) + marks)
    if patterns:
        lines += ["", "Key: released only"]
        for cells, mark in patterns.items():
            lines += _wrap(f"  {mark}  {_describe(cells, consents, ages)}", width, indent="     ")
    refused = [f"{a} ({', '.join(p for p in purposes if p not in allowed[a])})" for a in agencies]
    lines += [""]
    lines += _wrap("Refused outright (not shown): " + "; ".join(refused) + ".", width)
    lines += _wrap("A child's consent here is a Gillick-competent child's. --wide: the full table.", width)
    return [line.rstrip() for line in lines]


def _wrap(text: str, width: int, *, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, width, subsequent_indent=indent, break_on_hyphens=False) or [""]
