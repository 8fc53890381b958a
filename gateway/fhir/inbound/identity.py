"""Who and where: Patient (``subject``, ``case_links``), Organization (the author's agency code) and
Encounter (``context``: when, in which setting, by which service)."""

from __future__ import annotations

from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir.inbound import profile as p
from gateway.fhir.inbound.reader import Node, Reading

#: Patient identifier system -> canonical subject key.
_SUBJECT_KEY = {system: fid.removeprefix("identity.") for fid, system in t.IDENTIFIER_SYSTEMS.items()}


def patient(r: Reading, res: Node) -> None:
    subject: dict[str, Any] = {}
    links: list[dict[str, Any]] = []
    for ident in res.items("identifier"):
        system = ident.get("system")
        if system in _SUBJECT_KEY and ident.get("use") in (None, "official", "usual"):
            key = _SUBJECT_KEY[system]
            if key in subject:
                r.problem("duplicate", "this identifier system is given twice", ident.expr)
                ident.mark()
                continue
            ident.ignore("system", "use")
            for ext in ident.items("extension"):
                if ext.get("url") == p.NHS_VERIFICATION_EXTENSION:
                    ext.mark()  # the gateway checks the NHS number's check digit itself
            r.put(subject, key, ident.text("value"), f"{ident.expr}.value", f"subject.{key}")
        elif isinstance(system, str) and system.startswith(t.CASE_REFERENCE_SYSTEM_PREFIX):
            link = _case_link(r, ident, system)
            if link is not None and link not in links:
                r.origins[f"case_links[{len(links)}]"] = ident.expr
                links.append(link)
    names: list[dict[str, Any]] = []
    for name in res.items("name"):
        item: dict[str, Any] = {}
        use = name.raw("use")
        if use not in p.NAME_USE:
            r.problem("value", "name use must be official, usual or nickname (an alias)", f"{name.expr}.use")
        else:
            item["use"] = p.NAME_USE[use]
        name.ignore("text")  # display only: the parts are the name
        r.put(item, "family", name.raw("family"))
        r.put(item, "given", name.raw("given"))
        r.origins[f"subject.names[{len(names)}]"] = name.expr
        names.append(item)
    subject["names"] = names
    r.origins["subject.names"] = f"{res.expr}.name"
    r.put(subject, "date_of_birth", res.raw("birthDate"), f"{res.expr}.birthDate", "subject.date_of_birth")
    r.origins["subject"] = res.expr
    r.origins["case_links"] = f"{res.expr}.identifier"
    r.doc["subject"] = subject
    r.doc["case_links"] = links


def _case_link(r: Reading, ident: Node, system: str) -> dict[str, Any] | None:
    assigner = ident.child("assigner")
    agency = assigner.child("identifier") if assigner else None
    if assigner is None or agency is None or agency.get("system") != t.AGENCY_CODE_SYSTEM:
        r.problem("required", "a case reference needs its agency (agency-code identifier) as assigner", ident.expr)
        return None
    code = agency.raw("value")
    agency.raw("system")
    assigner.ignore("display")
    if not isinstance(code, str) or t.case_reference_system(code) != system:
        r.problem("invariant", "the case reference system does not name its assigner", f"{ident.expr}.system")
        return None
    ident.ignore("system", "use", "type")
    return {"agency_code": code, "case_reference": ident.raw("value")}


def organization(r: Reading, res: Node) -> None:
    res.ignore("name", "active")
    for ident in res.items("identifier"):
        if ident.get("system") in (t.AGENCY_CODE_SYSTEM, p.ODS_SYSTEM):
            ident.ignore("system", "value", "use")


def agency_code(org: Node) -> str | None:
    """The Organization's gateway agency code, if it has one."""
    for ident in org.items("identifier"):
        if ident.get("system") == t.AGENCY_CODE_SYSTEM and isinstance(ident.get("value"), str):
            return str(ident.get("value"))
    return None


def encounter(r: Reading, res: Node) -> None:
    if "context" in r.doc:
        r.problem("duplicate", "a document describes one assessment: one Encounter", res.expr)
        res.mark()  # one problem for the duplicate, not one per element
        return
    context: dict[str, Any] = {}
    res.ignore("status", "class")
    r.subject(res)
    types = res.items("type")
    if len(types) != 1:
        r.problem("required", "Encounter.type gives the setting, once", f"{res.expr}.type")
    else:
        system, code = types[0].concept()
        if system != p.SETTING_SYSTEM or code not in t.SETTING_LABEL:
            r.problem("code-invalid", "Encounter.type must be an assessment-setting code", types[0].expr)
        r.put(context, "setting", code, types[0], "context.setting")
    period = res.child("period")
    if period is not None:
        period.ignore("end")
        r.put(context, "assessed_at", period.raw("start"), f"{period.expr}.start", "context.assessed_at")
    provider = r.resolve(res.child("serviceProvider"), ("Organization",))
    if provider is not None:
        r.put(context, "service_name", provider.get("name"), f"{provider.expr}.name", "context.service_name")
    r.origins["context"] = res.expr
    r.doc["context"] = context
