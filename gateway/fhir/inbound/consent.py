"""Consent (``consent``): the person's decision about sharing, and who made it.

Status, read both ways a supplier may write a refusal:

* ``status = active`` with ``provision.type = deny`` (the FHIR idiom for a refusal), or the older
  ``status = rejected``: declined;
* ``status = active`` otherwise: given, limited by the ``permit`` provision's actors and purposes;
* ``status = inactive``: withdrawn or not possible, which only the consent-status extension tells apart.

The consent-status extension, when present, gives the exact canonical status and must agree with the above.
``performer`` is the Patient (the person decided) or a RelatedPerson (a person with parental
responsibility decided for a child: ``given_by``).
"""

from __future__ import annotations

from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir.inbound.identity import agency_code
from gateway.fhir.inbound.reader import Node, Reading

_NOT_GIVEN = frozenset({"declined", "withdrawn", "not-possible"})


def consent(r: Reading, res: Node) -> None:
    if "consent" in r.doc:
        r.problem("duplicate", "a document has one Consent (the decision about sharing)", res.expr)
        res.mark()  # one problem for the duplicate, not one per element
        return
    res.ignore("scope", "category", "policyRule", "policy")
    r.subject(res, "patient")
    for org in res.items("organization"):
        r.resolve(org, ("Organization",))
    provision = res.child("provision")
    deny = provision is not None and provision.get("type") == "deny"
    status = _status(r, res, deny)
    value: dict[str, Any] = {
        "status": status,
        "recorded_at": res.raw("dateTime"),
        "limited_to_agencies": [],
        "limited_to_purposes": [],
        "gillick_competent": None,
        "best_interests_decision": None,
    }
    r.origins["consent.status"] = f"{res.expr}.status"
    r.origins["consent.recorded_at"] = f"{res.expr}.dateTime"
    if provision is not None:
        provision.raw("type")
        if deny and (provision.has("actor") or provision.has("purpose")):
            r.problem(
                "not-supported",
                "a refusal is recorded as a whole: a deny provision names no actors or purposes",
                provision.expr,
            )
        else:
            _limits(r, provision, value)
    performers = res.items("performer")
    if len(performers) > 1:
        r.problem("structure", "one performer: the person, or who decided for them", f"{res.expr}.performer[1]")
    for performer in performers[:1]:
        who = r.resolve(performer, ("Patient", "RelatedPerson"))
        if who is not None and who.get("resourceType") == "RelatedPerson":
            value["given_by"] = _given_by(r, who)
    r.origins["consent"] = res.expr
    r.doc["consent"] = value


def _status(r: Reading, res: Node, deny: bool) -> str | None:
    fhir_status = res.raw("status")
    exact = None
    for ext in res.items("extension"):
        if ext.get("url") != t.CONSENT_STATUS_EXTENSION:
            continue
        coding = ext.child("valueCoding")
        if (
            coding is None
            or coding.get("system") != t.CONSENT_STATUS_SYSTEM
            or coding.get("code") not in t.CONSENT_STATE
        ):
            r.problem("code-invalid", "the consent-status extension takes a consent-status Coding", ext.expr)
            return None
        ext.raw("url")
        coding.ignore("system", "display")
        exact = str(coding.raw("code"))
    if fhir_status == "rejected" or (fhir_status == "active" and deny):
        idiom: str | None = "declined"
    elif fhir_status == "active":
        idiom = "given"
    elif fhir_status == "inactive":
        idiom = None  # withdrawn or not possible: only the extension says which
    else:
        r.problem("value", "Consent.status must be active, rejected or inactive", f"{res.expr}.status")
        return None
    if exact is None:
        if idiom is None:
            r.problem(
                "required",
                "an inactive Consent needs the consent-status extension (withdrawn or not-possible)",
                f"{res.expr}.extension",
            )
        return idiom
    # The exact status must agree with the idiom: given is an active permit, anything else is not.
    if (exact == "given") != (idiom == "given") or (idiom == "declined" and exact not in _NOT_GIVEN):
        r.problem("invariant", "status and provision do not match the consent-status extension", f"{res.expr}.status")
    return exact


def _limits(r: Reading, provision: Node, value: dict[str, Any]) -> None:
    """A permit provision's actors (the agencies) and purposes limit the consent to them."""
    for actor in provision.items("actor"):
        actor.ignore("role")
        ref = actor.child("reference")
        code = None
        if ref is not None and ref.has("identifier"):
            ident = ref.child("identifier")
            ref.ignore("display")
            if ident is not None and ident.get("system") == t.AGENCY_CODE_SYSTEM:
                ident.raw("system")
                code = ident.text("value")
        elif ref is not None:
            org = r.resolve(ref, ("Organization",))
            code = agency_code(org) if org is not None else None
            if org is None:
                continue
        if code is None:
            r.problem("code-invalid", "a consent actor is an agency (agency-code identifier)", actor.expr)
            continue
        value["limited_to_agencies"].append(code)
    for purpose in provision.items("purpose"):
        if purpose.get("system") != t.PURPOSE_OF_USE_SYSTEM or not isinstance(purpose.get("code"), str):
            r.problem("code-invalid", "a consent purpose is a gateway purpose-of-use code", purpose.expr)
            continue
        purpose.ignore("system", "display")
        value["limited_to_purposes"].append(purpose.raw("code"))


def _given_by(r: Reading, who: Node) -> dict[str, Any]:
    """Name and relationship to the child of the person with parental responsibility who decided."""
    out: dict[str, Any] = {}
    names = who.items("name")
    if len(names) != 1:
        r.problem("required", "the RelatedPerson needs one name", f"{who.expr}.name")
    else:
        name = names[0]
        name.ignore("use")
        text = name.text("text")
        if text is None:
            parts = [*(name.raw("given") or []), name.raw("family")]
            text = " ".join(part for part in parts if isinstance(part, str)) or None
        else:
            name.ignore("given", "family")
        r.put(out, "name", text, name, "consent.given_by.name")
    relationships = who.items("relationship")
    if len(relationships) != 1:
        r.problem("required", "the RelatedPerson needs one relationship to the child", f"{who.expr}.relationship")
    else:
        rel = relationships[0]
        text = rel.text("text")
        codings = rel.items("coding")
        for coding in codings:
            coding.ignore("system", "code", "display")
        if text is None and codings:
            text = codings[0].get("display")
        r.put(out, "relationship", text, rel, "consent.given_by.relationship")
    return out


def related_person(r: Reading, res: Node) -> None:
    """A RelatedPerson is read as the Consent's performer; here only what ties it to the person."""
    res.ignore("active")
    r.subject(res, "patient")
