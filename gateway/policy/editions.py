"""The second edition of the agreement against the first: every cell that departs, and why.

The first edition is kept as what its policy decided (``policies/first-edition/matrix.json``), the reasons
as data (``policies/first-edition/departures.json``). A cell departs when a field is released for an
agency type, purpose, consent state and age group where the first edition withheld it, or the reverse.
Each departing cell is explained by the first departure whose selectors match it; a cell no departure
explains has ``departure`` ``None`` (a test holds there to be none). Pure: the caller gives the rows of
:func:`gateway.policy.matrix.compute_matrix` for the running policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

FIRST_EDITION_DIR: Final = "first-edition"

Cell = tuple[str, str, str, str]  # agency type, purpose, consent, age group


@dataclass(frozen=True)
class Departure:
    """One reason the second edition departs from the first, and the cells it speaks for."""

    id: str
    reason: str
    change: str | None  # "released", "withheld", or None for either
    selectors: tuple[tuple[str, frozenset[str]], ...]

    def explains(self, cell: Cell, field: str, change: str) -> bool:
        if self.change is not None and self.change != change:
            return False
        values = {
            "fields": field,
            "agency_types": cell[0],
            "purposes": cell[1],
            "consents": cell[2],
            "age_groups": cell[3],
        }
        return all(values[name] in allowed for name, allowed in self.selectors)


@dataclass(frozen=True)
class CellChange:
    cell: Cell
    field: str
    change: str  # "released" (withheld in the first edition) or "withheld" (released in it)
    departure: Departure | None


@dataclass(frozen=True)
class FirstEdition:
    released: Mapping[Cell, frozenset[str]]
    departures: tuple[Departure, ...]


_SELECTORS: Final = ("fields", "agency_types", "purposes", "consents", "age_groups")


def load_first_edition(policy_dir: Path) -> FirstEdition | None:
    """The first edition kept beside ``policy_dir``'s policy, or ``None`` when it is not there (a stored
    revision served from elsewhere carries none)."""
    folder = policy_dir / FIRST_EDITION_DIR
    if not (folder / "matrix.json").is_file() or not (folder / "departures.json").is_file():
        return None
    matrix = json.loads((folder / "matrix.json").read_text(encoding="utf-8"))
    raw = json.loads((folder / "departures.json").read_text(encoding="utf-8"))
    released = {
        (r["agency_type"], r["purpose"], r["consent"], r["age_group"]): frozenset(r["released"]) for r in matrix["rows"]
    }
    return FirstEdition(released, tuple(_departure(d) for d in raw["departures"]))


def _departure(raw: Mapping[str, Any]) -> Departure:
    change = raw.get("change")
    if change not in (None, "released", "withheld"):
        raise ValueError(f"departure {raw.get('id')}: change must be 'released' or 'withheld'")
    selectors = tuple((name, frozenset(raw[name])) for name in _SELECTORS if name in raw)
    return Departure(str(raw["id"]), str(raw["reason"]), change, selectors)


def changes_from_first_edition(rows: Sequence[Mapping[str, Any]], first: FirstEdition) -> list[CellChange]:
    """Every (cell, field) whose release differs from the first edition, with the departure that explains
    it (the first in the data whose selectors match), in the order of ``rows`` and then field id."""
    out = []
    for row in rows:
        cell = (row["agency_type"], row["purpose"], row["consent"], row["age_group"])
        now = frozenset(row["released"])
        before = first.released.get(cell, frozenset())
        for field in sorted(now ^ before):
            change = "released" if field in now else "withheld"
            departure = next((d for d in first.departures if d.explains(cell, field, change)), None)
            out.append(CellChange(cell, field, change, departure))
    return out
