"""Observations (the L&D findings, one local finding code each) and Flags (alerts derived from them).

Observation codes are in ``terminology.FINDING_SYSTEM``; each code appears at most once per document.
Values are ``value[x]``, coded reasons are components (code ``reason``), and the practitioner's text is
the one ``note``. A Flag is checked against the value that raises it and carries nothing of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir.inbound import profile as p
from gateway.fhir.inbound.reader import Node, Reading

_Reader = Callable[[Reading, Node, str], None]


def observation(r: Reading, res: Node) -> None:
    system, code = res.coding("code")
    reader = _READERS.get(code or "") if system == t.FINDING_SYSTEM else None
    if reader is None or code is None:
        r.problem("code-invalid", "not an Observation code of the L&D document profile", f"{res.expr}.code")
        res.mark()  # the code is the problem; its other elements are not each a further one
        return
    seen = r.seen.setdefault("Observation", set())
    if code in seen:
        r.problem("duplicate", "this finding is given twice", res.expr)
        res.mark()  # one problem for the duplicate, not one per element
        return
    seen.add(code)
    res.ignore(
        "status", "category", "effectiveDateTime", "effectivePeriod", "effectiveInstant", "issued", "dataAbsentReason"
    )
    r.subject(res)
    for performer in res.items("performer"):
        r.resolve(performer, ("Organization",))
    reader(r, res, code)


def _note(r: Reading, res: Node) -> str | None:
    notes = res.items("note")
    if len(notes) > 1:
        r.problem("structure", "at most one note", f"{res.expr}.note[1]")
    if not notes:
        return None
    notes[0].ignore("time", "authorString", "authorReference")
    return notes[0].text("text")


def _put_note(r: Reading, res: Node, value: dict[str, Any], key: str, path: str) -> None:
    """The practitioner's text (the one note) as ``value[key]``, located at the note for later problems."""
    r.put(value, key, _note(r, res), f"{res.expr}.note[0].text", f"{path}.{key}")


def _boolean(r: Reading, res: Node, path: str) -> Any:
    value = res.raw("valueBoolean")
    r.origins[path] = f"{res.expr}.valueBoolean"
    return value


def _reasons(r: Reading, res: Node, system: str, labels: Mapping[str, str]) -> list[str]:
    reasons = []
    for component in res.items("component"):
        _, ccode = component.coding("code")
        csystem, reason = component.coding("valueCodeableConcept")
        if ccode != "reason" or csystem != system or reason is None or reason not in labels:
            r.problem("code-invalid", "not a reason this finding understands", component.expr)
            continue
        reasons.append(reason)
    return reasons


def _set(r: Reading, res: Node, path: str, value: dict[str, Any]) -> None:
    """Put ``value`` at the dotted canonical ``path`` (``needs.appropriate_adult``)."""
    *parents, last = path.split(".")
    target = r.doc
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    r.origins[path] = res.expr


def _with_reasons(
    r: Reading, res: Node, path: str, value: dict[str, Any], system: str, labels: Mapping[str, str]
) -> None:
    """A finding with coded reasons: ``value`` (its answer), the reasons when there are any and the
    practitioner's explanation, put at ``path``."""
    reasons = _reasons(r, res, system, labels)
    if reasons:
        value["reasons"] = reasons
    _put_note(r, res, value, "explanation", path)
    _set(r, res, path, value)


def _fitness_interview(r: Reading, res: Node, code: str) -> None:
    value: dict[str, Any] = {}
    if res.has("valueCodeableConcept"):
        system, status = res.coding("valueCodeableConcept")
        if system != t.INTERVIEW_FITNESS_SYSTEM or status not in t.INTERVIEW_FITNESS_LABEL:
            r.problem("code-invalid", "not an interview-fitness code", f"{res.expr}.valueCodeableConcept")
        value["status"] = status
    _with_reasons(
        r, res, "fitness.interview", value, t.INTERVIEW_FITNESS_REASON_SYSTEM, t.INTERVIEW_FITNESS_REASON_LABEL
    )


def _fitness_plead(r: Reading, res: Node, code: str) -> None:
    value = {"concerns": _boolean(r, res, "fitness.plead.concerns")}
    _with_reasons(r, res, "fitness.plead", value, t.PLEAD_REASON_SYSTEM, t.PLEAD_REASON_LABEL)


def _appropriate_adult(r: Reading, res: Node, code: str) -> None:
    value = {"required": _boolean(r, res, "needs.appropriate_adult.required")}
    _with_reasons(
        r, res, "needs.appropriate_adult", value, t.APPROPRIATE_ADULT_REASON_SYSTEM, t.APPROPRIATE_ADULT_REASON_LABEL
    )


def _communication(r: Reading, res: Node, code: str) -> None:
    needs: list[Any] = []
    for component in res.items("component"):
        _, ccode = component.coding("code")
        if ccode != "communication-need" or not isinstance(component.get("valueString"), str):
            r.problem("code-invalid", "a component here is one communication need (valueString)", component.expr)
            continue
        r.origins[f"needs.communication.needs[{len(needs)}]"] = f"{component.expr}.valueString"
        needs.append(component.raw("valueString"))
    value: dict[str, Any] = {"needs": needs}
    _put_note(r, res, value, "adjustments", "needs.communication")
    _set(r, res, "needs.communication", value)


def _intermediary(r: Reading, res: Node, code: str) -> None:
    value = {"recommended": _boolean(r, res, "needs.intermediary.recommended")}
    _put_note(r, res, value, "reason", "needs.intermediary")
    _set(r, res, "needs.intermediary", value)


def _safeguarding(r: Reading, res: Node, code: str) -> None:
    value = {"concerns": _boolean(r, res, "risk.safeguarding.concerns")}
    _put_note(r, res, value, "summary", "risk.safeguarding")
    _set(r, res, "risk.safeguarding", value)


def _diversion(r: Reading, res: Node, code: str) -> None:
    options = []
    for component in res.items("component"):
        _, ccode = component.coding("code")
        system, option = component.coding("valueCodeableConcept")
        if ccode != "diversion-option" or system != t.DIVERSION_OPTION_SYSTEM or option is None:
            r.problem("code-invalid", "not a diversion option", component.expr)
            continue
        options.append(option)
    value: dict[str, Any] = {"suitable": _boolean(r, res, "diversion.suitable")}
    if options:
        value["options"] = options
    _put_note(r, res, value, "notes", "diversion")
    r.doc["diversion"] = value
    r.origins["diversion"] = res.expr


def _requirements(r: Reading, res: Node, code: str) -> None:
    key, labels = p.REQUIREMENTS[code]
    if res.get("dataAbsentReason") is not None and _absent_because(res) == "not-applicable":
        # The gateway's own rendering for a child: adult requirements do not apply, and its note says why.
        # Nothing is recorded, whatever else the Observation holds, so a republished child's document
        # never turns that explanation into a requirement note released once the person is 18.
        res.ignore("note", "component")
        return
    value: dict[str, Any] = {}
    for component in res.items("component"):
        _, ccode = component.coding("code")
        req, _, what = (ccode or "").rpartition("-")
        if req not in labels or what not in ("suitable", "consents") or not component.has("valueBoolean"):
            r.problem("code-invalid", "not a requirement finding (suitable or consents, valueBoolean)", component.expr)
            continue
        value.setdefault(req, {})[what] = component.raw("valueBoolean")
    _put_note(r, res, value, "notes", key)
    if not value:
        return  # nothing recorded
    r.doc[key] = value
    r.origins[key] = res.expr


def _capacity(r: Reading, res: Node, code: str) -> None:
    for component in res.items("component"):
        _, ccode = component.coding("code")
        if ccode == "gillick-competent" and component.has("valueBoolean"):
            r.capacity["gillick_competent"] = component.raw("valueBoolean")
        elif ccode == "best-interests-decision" and component.has("valueString"):
            r.capacity["best_interests_decision"] = component.raw("valueString")
        else:
            r.problem(
                "code-invalid",
                "a capacity component is gillick-competent (valueBoolean) or best-interests-decision (valueString)",
                component.expr,
            )


def _text(r: Reading, res: Node, code: str) -> None:
    key = p.TEXT_OBSERVATIONS[code]
    value = res.raw("valueString")
    if not isinstance(value, str):
        r.problem("required", "this finding is text: valueString", res.expr)
        return
    r.doc[key] = value
    r.origins[key] = f"{res.expr}.valueString"


_READERS: dict[str, _Reader] = {
    "fitness-to-interview": _fitness_interview,
    "fitness-to-plead-concerns": _fitness_plead,
    "appropriate-adult-required": _appropriate_adult,
    "communication-needs": _communication,
    "intermediary-recommended": _intermediary,
    "safeguarding-concerns": _safeguarding,
    "diversion-suitability": _diversion,
    "treatment-requirement-suitability": _requirements,
    "youth-requirement-suitability": _requirements,
    "capacity-to-consent": _capacity,
    **{code: _text for code in p.TEXT_OBSERVATIONS},
}


def flag(r: Reading, res: Node) -> None:
    system, code = res.coding("code")
    if system != t.FINDING_SYSTEM or code not in p.FLAG_FINDINGS:
        r.problem("code-invalid", "not a Flag code of the L&D document profile", f"{res.expr}.code")
        res.mark()
        return
    if code in r.flags:
        r.problem("duplicate", "this flag is given twice", res.expr)
        res.mark()  # one problem for the duplicate, not one per element
        return
    r.flags[code] = res.expr
    res.ignore("status", "category", "period")
    r.subject(res)
    r.resolve(res.child("author"), ("Organization",))


def check_flags(r: Reading) -> None:
    """Each Flag must be called for by the value it alerts to (the gateway raises its own Flags outbound,
    so a missing one is no problem; a contradicting one is)."""
    d = r.doc
    needs = d.get("needs") or {}
    risk = (d.get("risk") or {}).get("assessment") or {}
    called_for = {
        "appropriate-adult-required": (needs.get("appropriate_adult") or {}).get("required") is True,
        "communication-needs": bool((needs.get("communication") or {}).get("needs")),
        "intermediary-recommended": (needs.get("intermediary") or {}).get("recommended") is True,
        "risk-of-harm": risk.get("to_self") in ("medium", "high") or risk.get("to_others") in ("medium", "high"),
        "safeguarding-concerns": ((d.get("risk") or {}).get("safeguarding") or {}).get("concerns") is True,
    }
    for code, expr in r.flags.items():
        if not called_for[code]:
            r.problem("invariant", f"the {code} Flag is not supported by the document's entries", expr)


#: Every Observation code the profile reads (docs/fhir-inbound.md lists each).
OBSERVATION_CODES = frozenset(_READERS)


def _absent_because(res: Node) -> str | None:
    reason = res.child("dataAbsentReason")
    return None if reason is None else reason.concept()[1]
