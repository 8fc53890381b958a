"""ClinicalImpression (``vulnerability_summary``), Condition (``diagnoses``) and RiskAssessment
(``risk.assessment``)."""

from __future__ import annotations

from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir.inbound import profile as p
from gateway.fhir.inbound.reader import Node, Reading

_TIMES = ("effectiveDateTime", "effectivePeriod", "occurrenceDateTime", "occurrencePeriod", "date", "recordedDate")


def _once(r: Reading, res: Node, kind: str) -> bool:
    seen = r.seen.setdefault(kind, set())
    if kind in seen:
        r.problem("duplicate", f"a document has one {kind}", res.expr)
        res.mark()  # one problem for the duplicate, not one per element
        return False
    seen.add(kind)
    return True


def clinical_impression(r: Reading, res: Node) -> None:
    system, code = res.coding("code")
    if (system, code) != (t.FINDING_SYSTEM, "vulnerability-assessment"):
        r.problem("code-invalid", "ClinicalImpression.code must be vulnerability-assessment", f"{res.expr}.code")
        res.mark()
        return
    if not _once(r, res, "ClinicalImpression"):
        return
    res.ignore("status", *_TIMES)
    r.subject(res)
    r.put(r.doc, "vulnerability_summary", res.raw("summary"), f"{res.expr}.summary", "vulnerability_summary")


def condition(r: Reading, res: Node) -> None:
    res.ignore("clinicalStatus", "category", "onsetDateTime", *_TIMES)
    r.subject(res)
    concept = res.child("code")
    codings = concept.items("coding") if concept else []
    index = len(r.doc.setdefault("diagnoses", []))
    diagnosis: dict[str, Any] = {}
    if concept is None or not codings:
        r.problem("required", "a Condition needs a coded code (system and code)", f"{res.expr}.code")
    else:
        coding = codings[0]
        coding.ignore("version", "userSelected")
        r.put(diagnosis, "code", coding.raw("code"), f"{coding.expr}.code", f"diagnoses[{index}].code")
        r.put(diagnosis, "system", coding.raw("system"), f"{coding.expr}.system", f"diagnoses[{index}].system")
        # The coding's display names the condition; the concept's text is the fallback a supplier may use.
        text = concept.raw("text")
        display = coding.raw("display") or text
        origin = f"{coding.expr}.display" if coding.has("display") else f"{concept.expr}.text"
        r.put(diagnosis, "display", display, origin, f"diagnoses[{index}].display")
    system, ver = res.coding("verificationStatus")
    if system != t.CONDITION_VER_STATUS_SYSTEM or ver not in p.DIAGNOSIS_STATUS:
        r.problem(
            "code-invalid",
            "verificationStatus must be confirmed, provisional or unconfirmed (condition-ver-status)",
            f"{res.expr}.verificationStatus",
        )
    else:
        diagnosis["status"] = p.DIAGNOSIS_STATUS[ver]
    r.origins[f"diagnoses[{index}]"] = res.expr
    r.doc["diagnoses"].append(diagnosis)


_OUTCOME = {"harm-to-self": "to_self", "harm-to-others": "to_others"}


def risk_assessment(r: Reading, res: Node) -> None:
    if not _once(r, res, "RiskAssessment"):
        return
    res.ignore("status", *_TIMES)
    r.subject(res)
    value: dict[str, Any] = {}
    for prediction in res.items("prediction"):
        osystem, outcome = prediction.coding("outcome")
        rsystem, level = prediction.coding("qualitativeRisk")
        key = _OUTCOME.get(outcome or "") if osystem == t.FINDING_SYSTEM else None
        if key is None or key in value or rsystem != t.RISK_PROBABILITY_SYSTEM or level not in p.RISK_LEVEL:
            r.problem(
                "code-invalid",
                "a prediction is harm-to-self or harm-to-others (once each) at a risk-probability of low, moderate "
                "or high",
                prediction.expr,
            )
            continue
        r.put(value, key, p.RISK_LEVEL[level], prediction, f"risk.assessment.{key}")
    notes = res.items("note")
    if len(notes) > 1:
        r.problem("structure", "at most one note", f"{res.expr}.note[1]")
    if notes:
        r.put(value, "summary", notes[0].text("text"), f"{notes[0].expr}.text", "risk.assessment.summary")
    r.origins["risk.assessment"] = res.expr
    r.doc.setdefault("risk", {})["assessment"] = value
