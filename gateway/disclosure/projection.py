"""Projecting an assessment onto the fields a decision released (pure).

This is the only place that reads assessment content for a recipient. Its output is keyed by field id
and holds nothing else, so the renderer downstream cannot reach a withheld value even by mistake.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.assessments.catalogue import Catalogue, resolve_pointer


def project(content: Mapping[str, Any], catalogue: Catalogue, released: Iterable[str]) -> dict[str, Any]:
    """``{field id: value}`` for each released field that has a value; unknown ids are ignored."""
    permitted = set(released)
    projection: dict[str, Any] = {}
    for field in catalogue:
        if field.id not in permitted:
            continue
        value = resolve_pointer(content, field.pointer)
        if value is not None and value != [] and value != {}:
            projection[field.id] = value
    return projection
