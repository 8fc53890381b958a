"""Which free text a publish screens for diagnostic terms: the text police or the CPS can receive.

Which fields reach police and the CPS is the running policy's answer, not a list kept here: the engine
is asked, as the disclosure matrix asks it (``gateway.policy.matrix``), for each of their purposes and
age groups with consent given. Consent given is the widest view: without consent each recipient gets
the minimum, and an override or emergency only adds fields the purpose already needs, so nothing
reaches police or the CPS that the consenting view does not hold. The answer is kept per policy
revision (a new revision asks again).

When the engine fails on any of those questions (an OPA timeout, the embedded engine's thread busy: see
:func:`gateway.policy.engine.engine_failed`), its denial is not the policy saying "nothing": every
free-text field is screened (fail closed, the widest set), and that answer is not kept, so the next
publish asks again.

The screen warns; it never refuses (``gateway.assessments.free_text``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any, Final

from gateway.assessments.catalogue import Catalogue, CatalogueField
from gateway.assessments.free_text import DiagnosticTerms, diagnostic_term_warnings, load_diagnostic_terms
from gateway.issue import Issue
from gateway.policy.engine import PolicyEngine
from gateway.policy.matrix import AGE_GROUPS, PURPOSES, MatrixIncomplete, answered, matrix_input

#: The recipients whose text must carry no diagnosis (DOMAIN.md: diagnoses and clinical detail never go
#: to police or the CPS, at custody or charging).
AUDIENCE: Final = ("police", "cps")
AUDIENCE_TEXT: Final = "police or the CPS"


@dataclass(frozen=True)
class TextScreen:
    """The free-text fields bound for police or the CPS, and the terms to look for in them; ``locate``
    moves a warning from its canonical path to where the caller wrote the text (a FHIR element)."""

    fields: tuple[CatalogueField, ...]
    terms: DiagnosticTerms
    locate: Callable[[Issue], Issue] | None = None

    def warnings(self, document: Mapping[str, Any]) -> list[Issue]:
        found = diagnostic_term_warnings(document, self.fields, self.terms, AUDIENCE_TEXT)
        return found if self.locate is None else [self.locate(issue) for issue in found]


_lock = threading.Lock()
_fields_by_revision: dict[tuple[str, tuple[str, ...]], tuple[str, ...]] = {}


def fields_for_audience(engine: PolicyEngine, catalogue: Catalogue) -> tuple[CatalogueField, ...]:
    """The catalogue's free-text fields that the policy in force releases to police or the CPS; every
    free-text field when the engine fails to answer any of the questions (never kept)."""
    key = (engine.revision, catalogue.ids)
    with _lock:
        ids = _fields_by_revision.get(key)
    if ids is None:
        released = _released_to_audience(engine)
        if released is None:  # an engine error is not the policy's answer: screen everything, ask again next time
            return tuple(f for f in catalogue if f.free_text is not None)
        ids = tuple(f.id for f in catalogue if f.free_text is not None and f.id in released)
        with _lock:
            _fields_by_revision[key] = ids
    return tuple(catalogue.get(i) for i in ids)


def _released_to_audience(engine: PolicyEngine) -> set[str] | None:
    """Every field the policy releases to police or the CPS with consent given; None as soon as the
    engine fails on one question (:func:`~gateway.policy.matrix.answered`; the rest are not asked: during
    an OPA outage each would wait for its timeout, and the answer is every free-text field whatever they
    say)."""
    released: set[str] = set()
    try:
        for cell in product(AUDIENCE, PURPOSES, ("given",), AGE_GROUPS):
            decision = answered(cell, engine.decide(matrix_input(*cell)))
            if decision.allowed:
                released.update(decision.released)
    except MatrixIncomplete:
        return None
    return released


def text_screen(
    engine: PolicyEngine, catalogue: Catalogue, schema_dir: Path, *, locate: Callable[[Issue], Issue] | None = None
) -> TextScreen:
    return TextScreen(fields_for_audience(engine, catalogue), load_diagnostic_terms(schema_dir), locate)
