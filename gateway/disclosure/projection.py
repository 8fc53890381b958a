"""Projecting an assessment onto the fields a decision released (pure).

This is the only place that reads assessment content for a recipient. Its output is keyed by field id
and holds nothing else, so the renderer downstream cannot reach a withheld value even by mistake.
Each field carries only what its catalogue entry allows (``gateway.assessments.catalogue.field_value``):
an object narrowed to its members, case links narrowed to the recipient's audience.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.assessments.catalogue import Audience, Catalogue, field_value

__all__ = ["Audience", "project"]


def project(
    content: Mapping[str, Any],
    catalogue: Catalogue,
    released: Iterable[str],
    audience: Audience | None = None,
) -> dict[str, Any]:
    """``{field id: value}`` for each released field that has a value; unknown ids are ignored."""
    permitted = set(released)
    projection: dict[str, Any] = {}
    for catalogue_field in catalogue:
        if catalogue_field.id not in permitted:
            continue
        value = field_value(content, catalogue_field, audience)
        if value is not None and value != [] and value != {}:
            projection[catalogue_field.id] = value
    return projection
