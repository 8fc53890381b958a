"""Projecting an assessment onto the fields a decision released (pure).

This is the only place that reads assessment content for a recipient. Its output is keyed by field id
and holds nothing else, so the renderer downstream cannot reach a withheld value even by mistake.
Each field carries only what its catalogue entry allows (``gateway.assessments.catalogue.field_value``):
an object narrowed to its members, case links narrowed to the recipient's audience.

The output also says which fields the decision released (``Projection.released``), with a value or not:
the renderer says "nothing recorded" of an area, or that the person decided their own consent, only of
fields the decision released, and treats a field it neither released nor withheld as withheld.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from gateway.assessments.catalogue import Audience, Catalogue, field_value
from gateway.fhir import Projection

__all__ = ["Audience", "Projection", "project"]


def project(
    content: Mapping[str, Any],
    catalogue: Catalogue,
    released: Iterable[str],
    audience: Audience | None = None,
) -> Projection:
    """``{field id: value}`` for each released field that has a value, and the released catalogue fields
    (``.released``, in catalogue order); unknown ids are ignored."""
    permitted = set(released)
    values: dict[str, Any] = {}
    released_ids: list[str] = []
    for catalogue_field in catalogue:
        if catalogue_field.id not in permitted:
            continue
        released_ids.append(catalogue_field.id)
        value = field_value(content, catalogue_field, audience)
        if value is not None and value != [] and value != {}:
            values[catalogue_field.id] = value
    return Projection(values, released=released_ids)
