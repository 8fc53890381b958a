"""What the disclosure path hands the renderer: the projection (:class:`Projection`, which says what the
decision released) and what it knows besides (:class:`DocumentMeta`), and the check of the latter.

A module of its own so that the document's builders (``_builder``, ``_labels``) can name the types without
importing :mod:`gateway.fhir.document`, which imports them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_ODS_CODE = re.compile(r"[A-Z0-9]{3,5}")


class Projection(dict[str, Any]):
    """The assessment as the decision released it: ``{field id: value}`` for each released field that
    has a value, and :attr:`released`, every field id the decision released (with a value or not).

    A field is released only if the decision released it. The renderer says something about a field
    (its content, "nothing recorded" in its area, who decided a consent) only when it is in
    :attr:`released` and not withheld; a field the decision neither released nor withheld is withheld
    for every statement the document makes. Absence from ``DocumentMeta.withheld`` never means
    "released". Defence in depth: the engines withhold (``default-deny``) every catalogue field a
    decision leaves out, so such a field is one the renderer knows and the engine's catalogue lacks, or
    an engine defect.

    A dict, so it is read, written and hashed as the plain projection was; :attr:`released` is not among
    its items (``orjson`` and ``json`` write the values alone), so a copy made with ``dict(...)`` or
    ``{**...}`` loses it, and the renderer refuses a mapping that does not say what was released.
    """

    __slots__ = ("_released",)

    def __init__(self, values: Mapping[str, Any] | None = None, *, released: Iterable[str]) -> None:
        super().__init__(values or {})
        self._released: tuple[str, ...] = tuple(released)

    @property
    def released(self) -> tuple[str, ...]:
        """The released field ids, in the order given (the disclosure path gives the catalogue's order).
        Read-only: what the decision released is fixed when the projection is made, and the template
        cache keys on it."""
        return self._released

    def __repr__(self) -> str:
        return f"Projection({dict.__repr__(self)}, released={self.released!r})"


@dataclass(frozen=True)
class DocumentMeta:
    """What the disclosure path knows about this rendering; none of it comes from the assessment's
    content. ``withheld`` is the decision's withheld fields as ``(field id, rule id)`` pairs, and
    ``withheld_count`` must count them. What was released is the projection's (:class:`Projection`).

    ``withheld`` has no default on purpose: the renderer reads it for the rules (a field withheld as not
    applying to this person is said to be "not applicable") and a field both released and withheld is
    withheld, so a caller that forgot it could get a document that says more than the decision allowed."""

    bundle_id: str
    disclosure_id: str
    assessment_id: str
    assessment_version: int
    timestamp: datetime
    publisher_name: str
    publisher_code: str
    recipient_agency_code: str
    recipient_agency_type: str
    purpose: str
    obligations: tuple[str, ...]
    withheld_count: int
    withheld: tuple[tuple[str, str], ...]
    subject_minor: bool = False
    publisher_ods_code: str | None = None


def check_meta(meta: DocumentMeta) -> None:
    """Refuse metadata the renderer could not state truthfully (ValueError naming the field)."""
    for name in (
        "bundle_id",
        "assessment_id",
        "publisher_name",
        "publisher_code",
        "recipient_agency_code",
        "recipient_agency_type",
        "purpose",
    ):
        value = getattr(meta, name)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise ValueError(f"DocumentMeta.{name} must be a non-empty string without surrounding spaces")
    if not _FHIR_ID.fullmatch(meta.bundle_id):
        raise ValueError("DocumentMeta.bundle_id must be a FHIR id ([A-Za-z0-9.-], at most 64 characters)")
    if not isinstance(meta.withheld_count, int) or meta.withheld_count < 0:
        raise ValueError("DocumentMeta.withheld_count must be a non-negative integer")
    if not isinstance(meta.withheld, tuple) or meta.withheld_count != len(meta.withheld):
        raise ValueError("DocumentMeta.withheld_count must count DocumentMeta.withheld (each withheld field and rule)")
    if not isinstance(meta.assessment_version, int) or meta.assessment_version < 1:
        raise ValueError("DocumentMeta.assessment_version must be a positive integer")
    if meta.publisher_ods_code is not None and not _ODS_CODE.fullmatch(meta.publisher_ods_code):
        raise ValueError("DocumentMeta.publisher_ods_code must be 3 to 5 upper-case letters or digits")
