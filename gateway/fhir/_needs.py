"""Renderers for the need areas every decision maker reads: the assessment, vulnerability, needs and
adjustments, fitness, diversion and sentence requirements.

Each renderer takes one projected field and returns its narrative fragments and the references of the
entries it added (:data:`Part`); a field that is absent is never passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc, data_absent, flag, observation
from gateway.fhir._values import boolean, esc, note, obj, objs, p, text, texts, ul, yes_no

#: What one field contributes to its section: narrative fragments and references to entries.
Part = tuple[list[str], list[dict[str, str]]]
FieldRenderer = Callable[[Doc, str, Any], Part]


def assessment_context(doc: Doc, fid: str, value: Any) -> Part:
    ctx = obj(value, fid)
    parts = []
    if (at := text(ctx.get("assessed_at"))) is not None:
        parts.append(p("Assessed", at))
    if (setting := text(ctx.get("setting"))) is not None:
        parts.append(p("Setting", t.SETTING_LABEL.get(setting, setting)))
    if (service := text(ctx.get("service_name"))) is not None:
        parts.append(p("Assessing service", service))
    return parts, []


def vulnerability_summary(doc: Doc, fid: str, value: Any) -> Part:
    summary = text(value)
    if summary is None:
        return [], []
    ref = doc.add(
        "ClinicalImpression/vulnerability",
        {
            "resourceType": "ClinicalImpression",
            "status": "completed",
            "code": t.finding("vulnerability-assessment"),
            "subject": doc.patient_ref,
            "effectiveDateTime": doc.effective,
            "date": doc.effective,
            "summary": summary,
        },
        fid,
    )
    return [f"<p>{esc(summary)}</p>"], [ref]


def said(label: str, value: Any) -> list[str]:
    """A labelled paragraph of the practitioner's text, when there is any."""
    words = text(value)
    return [p(label, words)] if words else []


#: One item of a list field: its line in the narrative and the reference of its entry.
Item = tuple[str, dict[str, str]]


def listed(label: str, one: Callable[[Doc, str, int, Mapping[str, Any]], Item | None]) -> FieldRenderer:
    """The renderer of a list field: each item (``one``, given its index) a line of one labelled list
    and an entry of its own; an item that says nothing (``None``) adds neither."""

    def render(doc: Doc, fid: str, value: Any) -> Part:
        lines, refs = [], []
        for index, item in enumerate(objs(value, fid)):
            rendered = one(doc, fid, index, item)
            if rendered is not None:
                lines.append(rendered[0])
                refs.append(rendered[1])
        return ([ul(label, lines)] if lines else []), refs

    return render


def paragraph(label: str) -> FieldRenderer:
    """The renderer of a field that is one paragraph of text: narrative only, no entry."""

    def render(doc: Doc, fid: str, value: Any) -> Part:
        return said(label, value), []

    return render


@dataclass(frozen=True)
class Raises:
    """The Flag a yes answer raises (an alert a reader's system can act on): its entry, finding and category."""

    key: str
    finding: str
    category: str


def answered(doc: Doc, fid: str, label: str, answer: bool | None, details: list[str], raises: Raises) -> Part:
    """A yes/no answer and what explains it, and the Flag it raises when the answer is yes."""
    alert = [flag(doc, raises.key, fid, raises.finding, raises.category)] if answer else []
    return [p(label, yes_no(answer)), *details], alert


def _coded_reasons(label: str, value: Any, labels: Mapping[str, str], explanation: Any) -> list[str]:
    """A coded list of reasons and the practitioner's text for this audience, as narrative."""
    codes = texts(value)
    parts = []
    if codes:
        parts.append(ul(f"{label}: reasons", [labels.get(c, c) for c in codes]))
    return [*parts, *said(f"{label}: explanation", explanation)]


def _reason_components(system: str, value: Any, labels: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """One Observation component per coded reason."""
    return [
        {"code": t.finding("reason"), "valueCodeableConcept": t.local_concept(system, c, dict(labels))}
        for c in texts(value)
    ] or None


_APPROPRIATE_ADULT = Raises("Flag/appropriate-adult", "appropriate-adult-required", "contact")
_INTERMEDIARY = Raises("Flag/intermediary", "intermediary-recommended", "contact")


def appropriate_adult(doc: Doc, fid: str, value: Any) -> Part:
    aa = obj(value, fid)
    required = boolean(aa.get("required"), fid)
    why = _coded_reasons(
        "Appropriate adult", aa.get("reasons"), t.APPROPRIATE_ADULT_REASON_LABEL, aa.get("explanation")
    )
    return answered(doc, fid, "Appropriate adult required", required, why, _APPROPRIATE_ADULT)


def communication(doc: Doc, fid: str, value: Any) -> Part:
    comm = obj(value, fid)
    needs = texts(comm.get("needs"))
    adjustments = said("Adjustments", comm.get("adjustments"))
    if not needs:
        return adjustments, []
    alert = flag(doc, "Flag/communication", fid, "communication-needs", "contact", "; ".join(needs))
    return [ul("Communication needs", needs), *adjustments], [alert]


def intermediary(doc: Doc, fid: str, value: Any) -> Part:
    inter = obj(value, fid)
    recommended = boolean(inter.get("recommended"), fid)
    why = said("Intermediary: reason", inter.get("reason"))
    return answered(doc, fid, "Intermediary recommended", recommended, why, _INTERMEDIARY)


def fitness_interview(doc: Doc, fid: str, value: Any) -> Part:
    fit = obj(value, fid)
    status = text(fit.get("status"))
    notes = text(fit.get("explanation"))
    parts = []
    if status:
        parts.append(p("Fitness to be interviewed", t.INTERVIEW_FITNESS_LABEL.get(status, status)))
    parts += _coded_reasons(
        "Fitness to be interviewed", fit.get("reasons"), t.INTERVIEW_FITNESS_REASON_LABEL, fit.get("explanation")
    )
    if not parts:
        return [], []
    value_cc = t.local_concept(t.INTERVIEW_FITNESS_SYSTEM, status, t.INTERVIEW_FITNESS_LABEL) if status else None
    ref = observation(
        doc,
        "Observation/fitness-interview",
        (fid,),
        "fitness-to-interview",
        valueCodeableConcept=value_cc,
        component=_reason_components(
            t.INTERVIEW_FITNESS_REASON_SYSTEM, fit.get("reasons"), t.INTERVIEW_FITNESS_REASON_LABEL
        ),
        note=note(notes),
        dataAbsentReason=None if status else data_absent("unknown"),
    )
    return parts, [ref]


def fitness_plead(doc: Doc, fid: str, value: Any) -> Part:
    plead = obj(value, fid)
    concerns = boolean(plead.get("concerns"), fid)
    notes = text(plead.get("explanation"))
    parts = [p("Concerns about fitness to plead", yes_no(concerns))]
    parts += _coded_reasons("Fitness to plead", plead.get("reasons"), t.PLEAD_REASON_LABEL, plead.get("explanation"))
    ref = observation(
        doc,
        "Observation/fitness-plead",
        (fid,),
        "fitness-to-plead-concerns",
        valueBoolean=concerns,
        component=_reason_components(t.PLEAD_REASON_SYSTEM, plead.get("reasons"), t.PLEAD_REASON_LABEL),
        note=note(notes),
        dataAbsentReason=data_absent("unknown") if concerns is None else None,
    )
    return parts, [ref]


def diversion(doc: Doc, fid: str, value: Any) -> Part:
    div = obj(value, fid)
    suitable = boolean(div.get("suitable"), fid)
    options = texts(div.get("options"))
    notes = text(div.get("notes"))
    parts = [p("Suitable for diversion", yes_no(suitable))]
    if options:
        parts.append(ul("Options", [t.DIVERSION_OPTION_LABEL.get(o, o) for o in options]))
    if notes:
        parts.append(p("Notes", notes))
    components = [
        {
            "code": t.finding("diversion-option"),
            "valueCodeableConcept": t.local_concept(t.DIVERSION_OPTION_SYSTEM, o, t.DIVERSION_OPTION_LABEL),
        }
        for o in options
    ]
    ref = observation(
        doc,
        "Observation/diversion",
        (fid,),
        "diversion-suitability",
        valueBoolean=suitable,
        component=components or None,
        note=note(notes),
        dataAbsentReason=data_absent("unknown") if suitable is None else None,
    )
    return parts, [ref]


def treatment(doc: Doc, fid: str, value: Any) -> Part:
    return _requirements(doc, fid, value, t.TREATMENT_REQUIREMENT_LABEL, "treatment-requirement-suitability")


def youth_requirements(doc: Doc, fid: str, value: Any) -> Part:
    return _requirements(doc, fid, value, t.YOUTH_REQUIREMENT_LABEL, "youth-requirement-suitability")


def _requirements(doc: Doc, fid: str, value: Any, labels: Mapping[str, str], finding: str) -> Part:
    tr = obj(value, fid)
    parts: list[str] = []
    components: list[dict[str, Any]] = []
    for req, label in labels.items():
        if tr.get(req) is None:
            continue
        item = obj(tr[req], fid)
        suitable = boolean(item.get("suitable"), fid)
        consents = boolean(item.get("consents"), fid)
        line = f"suitable: {yes_no(suitable)}"
        if consents is not None:
            line += f"; the person consents: {yes_no(consents)}"
        parts.append(p(label, line))
        if suitable is not None:
            components.append({"code": t.finding(f"{req}-suitable"), "valueBoolean": suitable})
        if consents is not None:
            components.append({"code": t.finding(f"{req}-consents"), "valueBoolean": consents})
    notes = text(tr.get("notes"))
    if notes:
        parts.append(p("Notes", notes))
    if not parts:
        return [], []
    ref = observation(
        doc,
        f"Observation/{finding}",
        (fid,),
        finding,
        component=components or None,
        note=note(notes),
    )
    return parts, [ref]


def not_applicable(doc: Doc, finding: str, label: str, why: str) -> Part:
    """A requirement that does not apply to this person at all (by age on the day of disclosure): said
    in the narrative and as an Observation whose value is absent because it is not applicable, so a
    reader can tell "not applicable" from "not assessed" or "withheld". Built from the decision alone."""
    ref = observation(
        doc,
        f"Observation/{finding}",
        (),
        finding,
        dataAbsentReason=data_absent("not-applicable"),
        note=[{"text": why}],
    )
    return [p(label, f"not applicable: {why}")], [ref]
