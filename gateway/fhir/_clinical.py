"""Renderers for clinical, risk, referral and third-party need areas (see :mod:`gateway.fhir._needs`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc, flag
from gateway.fhir._needs import Item, Part, Raises, answered, listed, paragraph, said
from gateway.fhir._values import boolean, mapped, note, obj, p, prune, text, yes_no


def _diagnosis(doc: Doc, fid: str, index: int, dx: Mapping[str, Any]) -> Item | None:
    code, system, display, status = (text(dx.get(key)) for key in ("code", "system", "display", "status"))
    if not (code or display):
        return None
    label = display or code
    if status:
        label = f"{label} ({mapped(status, t.DIAGNOSIS_LABEL, fid)})"
    coding = prune({"system": system, "code": code, "display": display}) if code else None
    ver = mapped(status, t.DIAGNOSIS_VER_STATUS, fid) if status else None
    ref = doc.add(
        f"Condition/{index}",
        {
            "resourceType": "Condition",
            "verificationStatus": {
                "coding": [
                    {
                        "system": t.CONDITION_VER_STATUS_SYSTEM,
                        "code": ver,
                        "display": t.DIAGNOSIS_VER_DISPLAY[ver],
                    }
                ]
            }
            if ver
            else None,
            "code": prune({"coding": [coding] if coding else None, "text": display or code}),
            "subject": doc.patient_ref,
            "recordedDate": doc.effective,
        },
        fid,
        profile=t.UKCORE_PROFILE.get("Condition"),
    )
    return str(label), ref


diagnoses = listed("Diagnoses and identified conditions", _diagnosis)


clinical_detail = paragraph("Clinical detail")


def capacity(doc: Doc, fid: str, value: Any) -> Part:
    cap = obj(value, fid)
    gillick = boolean(cap.get("gillick_competent"), fid)
    parts = [] if gillick is None else [p("Gillick competent", yes_no(gillick))]
    return [*parts, *said("Best-interests decision", cap.get("best_interests_decision"))], []


def risk(doc: Doc, fid: str, value: Any) -> Part:
    assessment = obj(value, fid)
    to_self = text(assessment.get("to_self"))
    to_others = text(assessment.get("to_others"))
    summary = text(assessment.get("summary"))
    parts = []
    predictions = []
    levels = []
    for level, label, outcome in (
        (to_self, "Risk to self", "harm-to-self"),
        (to_others, "Risk to others", "harm-to-others"),
    ):
        if level is None:
            continue
        code = mapped(level, t.RISK_PROBABILITY, fid)
        parts.append(p(label, t.RISK_LABEL[level]))
        levels.append(f"{label.removeprefix('Risk ')}: {t.RISK_LABEL[level].lower()}")
        predictions.append(
            {
                "outcome": t.finding(outcome),
                "qualitativeRisk": {
                    "coding": [{"system": t.RISK_PROBABILITY_SYSTEM, "code": code}],
                    "text": t.RISK_LABEL[level],
                },
            }
        )
    if summary:
        parts.append(p("Summary", summary))
    if not parts:
        return [], []
    refs = [
        doc.add(
            "RiskAssessment/risk",
            {
                "resourceType": "RiskAssessment",
                "status": "final",
                "subject": doc.patient_ref,
                "occurrenceDateTime": doc.effective,
                "prediction": predictions or None,
                "note": note(summary),
            },
            fid,
        )
    ]
    if to_self in ("medium", "high") or to_others in ("medium", "high"):
        refs.append(flag(doc, "Flag/risk", fid, "risk-of-harm", "safety", "; ".join(levels)))
    return parts, refs


_SAFEGUARDING = Raises("Flag/safeguarding", "safeguarding-concerns", "safety")


def safeguarding(doc: Doc, fid: str, value: Any) -> Part:
    sg = obj(value, fid)
    concerns = boolean(sg.get("concerns"), fid)
    return answered(
        doc, fid, "Safeguarding concerns", concerns, said("Safeguarding summary", sg.get("summary")), _SAFEGUARDING
    )


def _referral(doc: Doc, fid: str, index: int, referral: Mapping[str, Any]) -> Item | None:
    service, need, status, date = (text(referral.get(key)) for key in ("service", "need", "status", "date"))
    if not (service or need):
        return None
    bits = [service or "Referral"]
    if need:
        bits.append(f"need: {t.REFERRAL_NEED_LABEL.get(need, need)}")
    if status:
        bits.append(f"status: {mapped(status, t.REFERRAL_STATUS_LABEL, fid).lower()}")
    if date:
        bits.append(f"date: {date}")
    ref = doc.add(
        f"ServiceRequest/{index}",
        {
            "resourceType": "ServiceRequest",
            "extension": [
                {
                    "url": t.REFERRAL_STATUS_EXTENSION,
                    "valueCoding": {
                        "system": t.REFERRAL_STATUS_SYSTEM,
                        "code": status,
                        "display": t.REFERRAL_STATUS_LABEL[status],
                    },
                }
            ]
            if status
            else None,
            "status": mapped(status, t.REFERRAL_REQUEST_STATUS, fid) if status else "unknown",
            "intent": "order",
            "category": [{"coding": [{"system": t.SNOMED_SYSTEM, "code": "3457005", "display": "Patient referral"}]}],
            "code": {"text": service} if service else None,
            "subject": doc.patient_ref,
            "authoredOn": date,
            "requester": doc.org_ref,
            "performer": [{"display": service}] if service else None,
            "reasonCode": [t.local_concept(t.REFERRAL_NEED_SYSTEM, need, t.REFERRAL_NEED_LABEL)] if need else None,
        },
        fid,
        profile=t.UKCORE_PROFILE.get("ServiceRequest"),
    )
    return "; ".join(bits), ref


referrals = listed("Referrals", _referral)


engagement = paragraph("Engagement with services")
third_party = paragraph("Third-party information")
