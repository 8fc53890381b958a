"""The document's need areas (Composition sections), which catalogue fields each holds, and how a
section is built from the projection and the decision.

A section is emitted in one of three ways:

* **content**: at least one of its fields was released and has a value;
* **withheld**: the decision released none of its fields (and did not withhold every one of them as not
  applying to this person): ``emptyReason`` ``list-empty-reason#withheld``, a sentence of narrative, no
  entries. This comes from the decision alone, never from the content, so a recipient sees the same
  withheld sections whether or not the person has anything recorded there;
* **absent**: fields released but nothing recorded.

"Released" is the decision's released set (``Doc.released``), never "not among the withheld": a field
the decision neither released nor withheld counts as withheld, so an area none of whose fields was
released is withheld, not absent (which would say "nothing recorded" of an area the recipient was never
given).

A field that does not apply to this person (community sentence treatment requirements for an under-18:
the policy's age rule) is said to be "not applicable" in a section where the decision released
something, rather than silently missing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Set
from dataclasses import dataclass
from typing import Any

from gateway.fhir import _clinical as clinical
from gateway.fhir import _consent as consent
from gateway.fhir import _needs as needs
from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc
from gateway.fhir._values import div, esc, prune


@dataclass(frozen=True)
class Section:
    code: str
    title: str
    fields: tuple[tuple[str, needs.FieldRenderer], ...]


SECTIONS: tuple[Section, ...] = (
    Section("assessment", "Assessment", (("assessment.context", needs.assessment_context),)),
    Section("vulnerability", "Vulnerability", (("vulnerability.summary", needs.vulnerability_summary),)),
    Section(
        "needs",
        "Needs and adjustments",
        (
            ("needs.appropriate_adult", needs.appropriate_adult),
            ("needs.communication", needs.communication),
            ("needs.intermediary", needs.intermediary),
        ),
    ),
    Section(
        "fitness", "Fitness", (("fitness.interview", needs.fitness_interview), ("fitness.plead", needs.fitness_plead))
    ),
    Section("diversion", "Diversion", (("diversion.suitability", needs.diversion),)),
    Section(
        "treatment",
        "Treatment requirements",
        (("treatment.requirements", needs.treatment), ("treatment.youth_requirements", needs.youth_requirements)),
    ),
    Section(
        "clinical",
        "Clinical",
        (
            ("clinical.diagnoses", clinical.diagnoses),
            ("clinical.detail", clinical.clinical_detail),
            ("clinical.capacity", clinical.capacity),
        ),
    ),
    Section(
        "risk",
        "Risk and safeguarding",
        (("risk.assessment", clinical.risk), ("risk.safeguarding", clinical.safeguarding)),
    ),
    Section(
        "referrals",
        "Referrals and engagement",
        (("referrals.made", clinical.referrals), ("referrals.engagement", clinical.engagement)),
    ),
    Section("third-party", "Third-party information", (("third_party.information", clinical.third_party),)),
    Section("consent", "Consent", (("consent.status", consent.consent), ("consent.given_by", consent.given_by))),
)

IDENTITY_FIELDS: tuple[str, ...] = (
    "identity.name",
    "identity.date_of_birth",
    "identity.nhs_number",
    "identity.pnc_id",
    "identity.cro_number",
    "identity.crn",
    "identity.cj_case_references",
    "identity.health_case_reference",
)

#: Case references by audience (the projection already kept only those this recipient may see).
CASE_REFERENCE_FIELDS: dict[str, str] = {
    "identity.cj_case_references": "Criminal justice case reference",
    "identity.health_case_reference": "Health or social care case reference",
}

#: Every catalogue field id the renderer knows how to render.
RENDERED_FIELDS: frozenset[str] = frozenset(IDENTITY_FIELDS + tuple(fid for s in SECTIONS for fid, _ in s.fields))


@dataclass(frozen=True)
class NotApplicable:
    field: str
    finding: str
    label: str
    why: str


#: Policy rules (``policies/data.json``) that withhold a field because it cannot apply to this person,
#: and are said as such. Youth rehabilitation order requirements withheld from an adult's court are not
#: listed: every adult's sentencing document would carry the line, and no one reads it as missing.
NOT_APPLICABLE: dict[str, NotApplicable] = {
    "treatment-requirements-adults-only": NotApplicable(
        "treatment.requirements",
        "treatment-requirement-suitability",
        "Community sentence treatment requirements (MHTR, DRR, ATR)",
        "they apply to adults only; the person is under 18",
    ),
}

WITHHELD_TEXT = "Withheld: the sharing policy does not release this information to you for this purpose."


def _inapplicable(fields: Mapping[str, str], fid: str) -> NotApplicable | None:
    """Why ``fid`` does not apply to this person, when the decision withheld it for that reason."""
    rule = fields.get(fid)
    entry = NOT_APPLICABLE.get(rule) if rule is not None else None
    return entry if entry is not None and entry.field == fid else None


def _coding(section: Section) -> dict[str, Any]:
    return {"coding": [{"system": t.SECTION_SYSTEM, "code": section.code, "display": section.title}]}


def withheld_areas(fields: Mapping[str, str], released: Collection[str]) -> list[str]:
    """The codes of the sections shown as withheld when the decision withholds ``fields`` (field id →
    rule id) and releases ``released``: those with no field released (and not also withheld), other
    than those whose every field was withheld as not applying to this person. Depends on the decision
    only. A field in neither ``fields`` nor ``released`` is withheld: there is no default for
    ``released``, so no caller can have "not withheld" read as released."""
    return _withheld_areas(fields, frozenset(released).difference(fields))


def _withheld_areas(fields: Mapping[str, str], released: Set[str]) -> list[str]:
    out = []
    for section in SECTIONS:
        ids = [fid for fid, _ in section.fields]
        if any(fid in released for fid in ids):
            continue
        inapplicable = [fid for fid in ids if _inapplicable(fields, fid) is not None]
        if len(inapplicable) < len(ids):
            out.append(section.code)
    return out


def build_sections(doc: Doc) -> list[dict[str, Any]]:
    """Every section of the document, in order, rendered from ``doc``'s projection and decision."""
    withheld = set(_withheld_areas(doc.withheld, doc.released))
    sections: list[dict[str, Any]] = []
    for section in SECTIONS:
        if section.code in withheld:
            sections.append(
                {
                    "title": section.title,
                    "code": _coding(section),
                    "text": div([f"<p>{esc(WITHHELD_TEXT)}</p>"]),
                    "emptyReason": {
                        "coding": [
                            {
                                "system": t.LIST_EMPTY_REASON_SYSTEM,
                                "code": "withheld",
                                "display": "Information Withheld",
                            }
                        ],
                    },
                }
            )
            continue
        # "Not applicable" is said beside what the decision released in the area, never on its own.
        any_released = any(fid in doc.released for fid, _ in section.fields)
        fragments: list[str] = []
        refs: list[dict[str, str]] = []
        for fid, render in section.fields:
            if (na := _inapplicable(doc.withheld, fid)) is not None:
                if not any_released:
                    continue
                parts, entries = needs.not_applicable(doc, na.finding, na.label, na.why)
            # render_document already refuses a value for a field not released; asked again here so
            # that no section renders from the projection alone (defence in depth, a set lookup).
            elif fid in doc.released and doc.projection.get(fid) is not None:
                parts, entries = render(doc, fid, doc.projection[fid])
            else:
                continue
            fragments.extend(parts)
            refs.extend(entries)
        if not fragments and not refs:
            continue
        sections.append(
            prune(
                {
                    "title": section.title,
                    "code": _coding(section),
                    "text": div(fragments) if fragments else None,
                    "entry": refs or None,
                }
            )
        )
    return sections
