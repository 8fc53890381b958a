"""Assessments with a unique canary string planted in every disclosable free-text value.

If a withheld field's canary shows up anywhere in a response's bytes, something leaked.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from typing import Any

from gateway.assessments.catalogue import Catalogue, resolve_pointer
from gateway.assessments.validation import validate_assessment
from tests.conftest import ROOT


def valid_nhs_number(rng: random.Random) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        check = 11 - sum(d * w for d, w in zip(digits, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            return "".join(map(str, digits)) + str(check)


def canary(index: int) -> str:
    # Zero-padded and fenced, so no canary is a substring of another.
    return f"QX{index:03d}CANARY"


def _string_leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _string_leaves(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _string_leaves(value, (*path, i))
    elif isinstance(node, str):
        yield path


def _container(document: dict[str, Any], pointer: str) -> tuple[Any, Any]:
    tokens = pointer[1:].split("/")
    parent = resolve_pointer(document, "/" + "/".join(tokens[:-1])) if len(tokens) > 1 else document
    return parent, tokens[-1]


def plant(
    document: dict[str, Any], catalogue: Catalogue, schema: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Returns the planted document and {field id: canary} for every field that could take one.

    A canary goes into each free-text string of the field; a string the schema constrains (an enum, a
    date, an identifier) refuses it, and such leaves are left as they were. Only the members a field
    carries take its canary (a member no field carries leaves nowhere); fields that select case links by
    audience are left to the identifier checks, as their values are references, not text.
    """
    planted = copy.deepcopy(document)
    canaries: dict[str, str] = {}
    for index, field in enumerate(catalogue):
        value = resolve_pointer(planted, field.pointer)
        if value is None or field.links is not None:
            continue
        mark = canary(index)
        leaves = [
            leaf for leaf in _string_leaves(value) if field.members is None or (leaf and leaf[0] in field.members)
        ]
        for leaf in leaves:
            trial = copy.deepcopy(planted)
            parent, key = _container(trial, field.pointer)
            target = parent[key] if isinstance(parent, dict) else parent[int(key)]
            if not leaf:
                parent[key] = f"{target} {mark}"
            else:
                node = target
                for step in leaf[:-1]:
                    node = node[step]
                node[leaf[-1]] = f"{node[leaf[-1]]} {mark}"
            if validate_assessment(trial, schema)[0] is not None:
                planted = trial
                canaries[field.id] = mark
    return planted, canaries


def example(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / "examples" / name).read_text())
