"""The field catalogue: every disclosable field, its category, labels and RFC 6901 pointer.

A field may narrow what it carries beyond its pointer: ``members`` (the only members of the object that
leave with it) and ``links`` (which case links: those of criminal justice agencies, or the recipient's
own). So one place in the canonical assessment can serve two audiences through two fields, each
carrying only what its audience may see. ``free_text`` says which members are free text, whom the
practitioner writes them for, and what they may contain.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_MISSING = object()


LINK_SELECTORS = ("criminal-justice", "recipient")
TEXT_AUDIENCES = ("criminal-justice", "health")

#: Agency types whose case references are criminal-justice identifiers.
CRIMINAL_JUSTICE_AGENCY_TYPES = frozenset({"police", "cps", "court", "probation", "yot"})


@dataclass(frozen=True, slots=True)
class FreeText:
    """The free text a field carries: JSON Pointers relative to the field's value (``""`` for the value
    itself; in a list, relative to each item), whom it is written for, and what it may contain."""

    members: tuple[str, ...]
    written_for: str
    may_contain: str


@dataclass(frozen=True, slots=True)
class CatalogueField:
    id: str
    title: str
    category: str
    labels: tuple[str, ...]
    pointer: str
    members: tuple[str, ...] | None = None
    links: str | None = None
    free_text: FreeText | None = None


@dataclass(frozen=True)
class Catalogue:
    fields: tuple[CatalogueField, ...]
    # Made once: every pull looks fields up by id (labels, sections), so a scan per look-up would cost
    # fields x fields on the hot path.
    _by_id: dict[str, CatalogueField] = field(init=False, repr=False, compare=False)
    _ids: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ids = tuple(f.id for f in self.fields)
        if len(ids) != len(set(ids)):
            raise ValueError("field catalogue has duplicate ids")
        object.__setattr__(self, "_ids", ids)
        object.__setattr__(self, "_by_id", {f.id: f for f in self.fields})

    def __iter__(self) -> Iterator[CatalogueField]:
        return iter(self.fields)

    @property
    def ids(self) -> tuple[str, ...]:
        return self._ids

    def get(self, field_id: str) -> CatalogueField:
        return self._by_id[field_id]


def load_catalogue(path: Path) -> Catalogue:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Catalogue(tuple(_field(f) for f in raw["fields"]))


def _field(raw: Mapping[str, Any]) -> CatalogueField:
    links = raw.get("links")
    if links is not None and links not in LINK_SELECTORS:
        raise ValueError(f"{raw['id']}: links must be one of {LINK_SELECTORS}")
    members = raw.get("members")
    text = raw.get("free_text")
    free_text = None
    if text is not None:
        if text["written_for"] not in TEXT_AUDIENCES:
            raise ValueError(f"{raw['id']}: free_text.written_for must be one of {TEXT_AUDIENCES}")
        free_text = FreeText(tuple(text["members"]), text["written_for"], text["may_contain"])
    return CatalogueField(
        id=raw["id"],
        title=raw["title"],
        category=raw["category"],
        labels=tuple(raw.get("labels", ())),
        pointer=raw["pointer"],
        members=tuple(members) if members is not None else None,
        links=links,
        free_text=free_text,
    )


def resolve_pointer(document: Mapping[str, Any], pointer: str) -> Any:
    """Resolve an RFC 6901 JSON Pointer; returns ``None`` when any step is absent."""
    if pointer == "":
        return document
    if not pointer.startswith("/"):
        raise ValueError(f"not a JSON Pointer: {pointer!r}")
    node: Any = document
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(key, _MISSING)
        elif isinstance(node, list) and key.isdigit():
            index = int(key)
            node = node[index] if index < len(node) else _MISSING
        else:
            node = _MISSING
        if node is _MISSING:
            return None
    return node


@dataclass(frozen=True, slots=True)
class Audience:
    """Who a field's value is for: the recipient agency, and the type of each agency a case link names."""

    agency_code: str
    agency_types: Mapping[str, str] = field(default_factory=dict)


def field_value(content: Mapping[str, Any], catalogue_field: CatalogueField, audience: Audience | None) -> Any:
    """What ``catalogue_field`` carries of ``content``: the value at its pointer, narrowed to its ``members``
    and, for case links, to its ``links`` selection. ``None`` when there is nothing.

    A case link to an agency the gateway does not know goes to nobody (its audience cannot be told);
    without an ``audience`` a field that selects case links carries none (fail closed).
    """
    value = resolve_pointer(content, catalogue_field.pointer)
    if value is None:
        return None
    if catalogue_field.members is not None:
        if not isinstance(value, Mapping):
            return None
        value = {k: v for k, v in value.items() if k in catalogue_field.members}
    if catalogue_field.links is not None:
        if not isinstance(value, list) or audience is None:
            return None
        value = [link for link in value if _link_for(catalogue_field.links, link, audience)]
    return value


def _link_for(selector: str, link: Any, audience: Audience) -> bool:
    if not isinstance(link, Mapping):
        return False
    code = link.get("agency_code")
    if not isinstance(code, str):
        return False
    if selector == "recipient":
        # Only a health or social care agency's own reference: never another agency's, never a CJ one.
        return code == audience.agency_code and audience.agency_types.get(code) == "health"
    return audience.agency_types.get(code) in CRIMINAL_JUSTICE_AGENCY_TYPES
