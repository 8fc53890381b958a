"""The field catalogue: every disclosable field, its category, labels and RFC 6901 pointer."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MISSING = object()


@dataclass(frozen=True, slots=True)
class CatalogueField:
    id: str
    title: str
    category: str
    labels: tuple[str, ...]
    pointer: str


@dataclass(frozen=True)
class Catalogue:
    fields: tuple[CatalogueField, ...]

    def __post_init__(self) -> None:
        ids = [f.id for f in self.fields]
        if len(ids) != len(set(ids)):
            raise ValueError("field catalogue has duplicate ids")

    def __iter__(self) -> Iterator[CatalogueField]:
        return iter(self.fields)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(f.id for f in self.fields)

    def get(self, field_id: str) -> CatalogueField:
        for field in self.fields:
            if field.id == field_id:
                return field
        raise KeyError(field_id)


def load_catalogue(path: Path) -> Catalogue:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Catalogue(
        tuple(
            CatalogueField(
                id=f["id"],
                title=f["title"],
                category=f["category"],
                labels=tuple(f.get("labels", ())),
                pointer=f["pointer"],
            )
            for f in raw["fields"]
        )
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
