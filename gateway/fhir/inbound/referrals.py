"""ServiceRequest: one referral each (``referrals[]``)."""

from __future__ import annotations

import re
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir.inbound import profile as p
from gateway.fhir.inbound.reader import Node, Reading

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def service_request(r: Reading, res: Node) -> None:
    index = len(r.doc.setdefault("referrals", []))
    path = f"referrals[{index}]"
    referral: dict[str, Any] = {}
    res.ignore("intent", "category", "priority")
    r.subject(res)
    r.resolve(res.child("requester"), ("Organization",))
    for performer in res.items("performer"):
        # Who the person is referred to is the service named in ``code``; the performer only repeats it.
        performer.ignore("display")
        if performer.has("reference"):
            r.resolve(performer, ("Organization",))
    status = _status(r, res)
    r.put(referral, "status", status, f"{res.expr}.status", f"{path}.status")
    concept = res.child("code")
    if concept is not None:
        if concept.has("text"):
            for coding in concept.items("coding"):
                coding.mark()  # the service as the referrer named it is the text
        r.put(referral, "service", concept.raw("text"), f"{concept.expr}.text", f"{path}.service")
    reasons = res.items("reasonCode")
    if reasons:
        system, need = reasons[0].concept()
        if system != t.REFERRAL_NEED_SYSTEM:
            r.problem("code-invalid", "reasonCode must be a referral-need code", reasons[0].expr)
        r.put(referral, "need", need, reasons[0], f"{path}.need")
    authored = res.raw("authoredOn")
    if isinstance(authored, str) and _DATE.match(authored):
        authored = authored[:10]  # the canonical referral has a date; a time of day is not kept
    r.put(referral, "date", authored, f"{res.expr}.authoredOn", f"{path}.date")
    r.origins[path] = res.expr
    r.doc["referrals"].append(referral)


def _status(r: Reading, res: Node) -> str | None:
    """The referral status: the referral-status extension when given (it tells made from accepted), or
    else ServiceRequest.status (active: made; completed: attended; revoked: declined)."""
    fhir_status = res.raw("status")
    exact = None
    for ext in res.items("extension"):
        if ext.get("url") != t.REFERRAL_STATUS_EXTENSION:
            continue
        coding = ext.child("valueCoding")
        if coding is None or coding.get("system") != t.REFERRAL_STATUS_SYSTEM:
            r.problem("code-invalid", "the referral-status extension takes a referral-status Coding", ext.expr)
            continue
        ext.raw("url")
        coding.ignore("system", "display")
        exact = coding.raw("code")
        if exact not in t.REFERRAL_REQUEST_STATUS:
            r.problem("code-invalid", "not a referral-status code", f"{coding.expr}.code")
            return None
    if exact is not None:
        if fhir_status != t.REFERRAL_REQUEST_STATUS[exact]:
            r.problem("invariant", "status does not match the referral-status extension", f"{res.expr}.status")
        return str(exact)
    if fhir_status not in p.REFERRAL_STATUS:
        r.problem("value", "ServiceRequest.status must be active, completed or revoked", f"{res.expr}.status")
        return None
    return p.REFERRAL_STATUS[fhir_status]
