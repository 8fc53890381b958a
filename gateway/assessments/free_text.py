"""Diagnostic terms in free text written for police and the CPS (DOMAIN.md, "Free text carries meaning").

The policy keeps diagnoses and clinical detail from police and the CPS field by field; free text can
still carry them ("appropriate adult needed because of his autism"). The practitioner writes the text
for its audience, so a publish whose police- or CPS-bound text contains a diagnostic term is accepted
and answered with a warning per text, so the practitioner can correct it. The terms are a maintained
list (``schemas/diagnostic-terms.json``) plus the display names of the SNOMED CT disorders the gateway
knows (:data:`gateway.assessments.snomed.DISORDERS`).

A warning names where the text is (its ``expression`` is the canonical path, as every other problem
with a published assessment, e.g. ``needs.appropriate_adult.explanation``; the diagnostics give the
catalogue field it leaves with and the RFC 6901 JSON Pointer) and never the text or the term found: the
answer, and anything that logs it, must not become a second copy of what should not have been written.

Pure: no I/O beyond reading the term file.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from gateway.assessments.catalogue import CatalogueField, resolve_pointer
from gateway.assessments.snomed import DISORDERS
from gateway.issue import Issue

TERMS_FILE: Final = "diagnostic-terms.json"


@dataclass(frozen=True)
class DiagnosticTerms:
    """A list of terms matched case-insensitively as whole words (white space inside a term matches any
    run of white space; a term inside a longer word does not match)."""

    terms: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.terms or any(not isinstance(t, str) or not t.strip() for t in self.terms):
            raise ValueError("the diagnostic term list must be non-empty text terms")

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        # Longest first, so that "personality disorder" is tried before "personality" would be.
        alternatives = sorted({" ".join(t.split()).casefold() for t in self.terms}, key=len, reverse=True)
        body = "|".join(r"\s+".join(re.escape(word) for word in term.split(" ")) for term in alternatives)
        return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)

    def found_in(self, text: str) -> bool:
        return self._pattern.search(text) is not None


def load_diagnostic_terms(schema_dir: Path) -> DiagnosticTerms:
    """The maintained list in ``schema_dir``, with the SNOMED CT disorders' display names added."""
    return _load(schema_dir / TERMS_FILE)


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> DiagnosticTerms:
    raw = json.loads(path.read_text(encoding="utf-8"))
    terms = raw.get("terms") if isinstance(raw, Mapping) else None
    if not isinstance(terms, list):
        raise ValueError(f"{path}: 'terms' must be a list of terms")
    return DiagnosticTerms((*terms, *DISORDERS.values()))


def _texts(value: Any, pointer: str) -> Iterator[tuple[str, str]]:
    """Every string at ``value`` (a string, or a list of strings), with its JSON Pointer."""
    if isinstance(value, str):
        yield pointer, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield f"{pointer}/{index}", item


def free_texts(document: Mapping[str, Any], catalogue_field: CatalogueField) -> Iterator[tuple[str, str]]:
    """The free-text members ``catalogue_field`` carries of ``document``, each with its JSON Pointer.

    The members are relative to the field's value, or to each item when the value is a list.
    """
    if catalogue_field.free_text is None:
        return
    value = resolve_pointer(document, catalogue_field.pointer)
    items: Iterable[tuple[str, Any]]
    if isinstance(value, list) and catalogue_field.free_text.members != ("",):
        items = ((f"{catalogue_field.pointer}/{i}", item) for i, item in enumerate(value))
    else:
        items = [(catalogue_field.pointer, value)]
    for base, item in items:
        if item is None:
            continue
        for member in catalogue_field.free_text.members:
            text = item if member == "" else resolve_pointer(item, member) if isinstance(item, Mapping) else None
            yield from _texts(text, base + member)


def diagnostic_term_warnings(
    document: Mapping[str, Any], fields: Sequence[CatalogueField], terms: DiagnosticTerms, audience: str
) -> list[Issue]:
    """One warning per text in ``fields`` (those bound for ``audience``) that contains a diagnostic term."""
    warnings = []
    for catalogue_field in fields:
        for pointer, text in free_texts(document, catalogue_field):
            if terms.found_in(text):
                warnings.append(
                    Issue.warning(
                        "business-rule",
                        f"{catalogue_field.id} ({pointer}): this text goes to {audience} and appears to contain "
                        "a diagnostic or clinical term; describe the need in functional terms (the text and the "
                        "term are not repeated here). The assessment was accepted.",
                        canonical_path(pointer),
                    )
                )
    return warnings


def canonical_path(pointer: str) -> str:
    """``/referrals/0/service`` as the canonical path ``referrals[0].service`` (the form of every other
    problem's expression)."""
    out = ""
    for token in pointer[1:].split("/"):
        key = token.replace("~1", "/").replace("~0", "~")
        out += f"[{key}]" if key.isdigit() else f".{key}" if out else key
    return out
