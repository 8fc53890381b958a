"""Map an inbound FHIR R4 document Bundle to a canonical assessment (pure): the inverse of ``document.py``.

An L&D case system may publish a FHIR document instead of canonical JSON (``POST /fhir/Bundle``). The
document profile is the gateway's own outbound one (``document.py``, ``docs/import.md``), so a document
the gateway rendered with every field released maps back to the assessment it came from.

**Nothing is silently dropped.** Every element of the Bundle is either read by the mapping or listed
in the refusal: the mapper marks each element it reads, and afterwards every element nobody read is
named (FHIRPath-like, ``Bundle.entry[3].resource.code.coding[0].system``) in an OperationOutcome issue.
Elements the gateway writes on the way out and derives itself on the way in (ids, ``fullUrl``,
``meta.security`` labels, the Composition's version and disclosure extensions, ``confidentiality``,
code ``display`` and concept ``text``) are read and ignored, because the gateway recomputes them.

Some canonical values (free-text notes, the assessment context, the capacity answers (Gillick and
best interests) and who decided for a child) have no element of their own in R4 and live only in the generated section
narrative, as ``<p><b>Label:</b> value</p>``. The mapper reads them from there; then it renders the
document again from the canonical result and requires every section's narrative to match, so a
narrative that says something the entries do not (or the reverse) is refused, never half-believed.

Knows nothing of the database or HTTP; problems are :class:`gateway.issue.Issue` values (error severity)
that never repeat submitted values.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from gateway.assessments.catalogue import Catalogue, field_value
from gateway.fhir import terminology as t
from gateway.fhir.document import SECTIONS, XHTML_NS, DocumentMeta, render_document
from gateway.issue import Issue

#: Composition.identifier system for the publishing L&D service's own record reference (the canonical
#: ``local_reference``); republishing the same reference makes a new version.
LOCAL_REFERENCE_SYSTEM = f"{t.LOCAL_BASE}/Id/local-reference"


class InboundError(Exception):
    """The document cannot be mapped; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[Issue]) -> None:
        super().__init__(f"{len(problems)} problem(s)")
        self.problems = list(problems)


@dataclass(frozen=True)
class Inbound:
    """A mapped document: the canonical assessment and the agency code of its author Organization."""

    assessment: dict[str, Any]
    author_code: str | None


def _reverse(mapping: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in mapping.items():
        out.setdefault(value, key)
    return out


_NAME_USE = _reverse(t.NAME_USE)
_SETTING = _reverse(t.SETTING_LABEL)
_RISK = _reverse(t.RISK_PROBABILITY)
_DIAGNOSIS = _reverse(t.DIAGNOSIS_VER_STATUS)
_YES_NO = {"Yes": True, "No": False, "Not recorded": None}
_SECTION_CODES = {s.code for s in SECTIONS}
_FLAG_FINDINGS = {
    "appropriate-adult-required",
    "communication-needs",
    "intermediary-recommended",
    "risk-of-harm",
    "safeguarding-concerns",
}
_OBSERVATION_FINDINGS = {
    "fitness-to-interview",
    "fitness-to-plead-concerns",
    "diversion-suitability",
    "treatment-requirement-suitability",
    "youth-requirement-suitability",
}
_REQUIREMENTS = {
    "treatment-requirement-suitability": ("treatment_requirements", t.TREATMENT_REQUIREMENT_LABEL),
    "youth-requirement-suitability": ("youth_requirements", t.YOUTH_REQUIREMENT_LABEL),
}
_AA_REASON = _reverse(t.APPROPRIATE_ADULT_REASON_LABEL)


# --- reading with a record of what was read ------------------------------------------------------


class _Node:
    """A JSON value and its FHIRPath-like expression; reading a key marks it (and all below it) read."""

    __slots__ = ("expr", "used", "value")

    def __init__(self, value: Any, expr: str, used: set[str]) -> None:
        self.value = value
        self.expr = expr
        self.used = used

    def mark(self) -> None:
        self.used.add(self.expr)

    def has(self, key: str) -> bool:
        return isinstance(self.value, dict) and key in self.value

    def raw(self, key: str) -> Any:
        """The value under ``key`` (None when absent), marked read with everything below it."""
        if not self.has(key):
            return None
        self.used.add(f"{self.expr}.{key}")
        return self.value[key]

    def child(self, key: str) -> _Node | None:
        if not self.has(key):
            return None
        value = self.value[key]
        return _Node(value, f"{self.expr}.{key}", self.used)

    def items(self, key: str) -> list[_Node]:
        value = self.value.get(key) if isinstance(self.value, dict) else None
        if not isinstance(value, list):
            return []
        return [_Node(v, f"{self.expr}.{key}[{i}]", self.used) for i, v in enumerate(value)]

    def coding(self, key: str) -> tuple[str | None, str | None, _Node | None]:
        """(system, code) of the first coding of the CodeableConcept at ``key``; see :meth:`concept`."""
        concept = self.child(key)
        if concept is None:
            return None, None, None
        system, code = concept.concept()
        return system, code, concept

    def concept(self) -> tuple[str | None, str | None]:
        """(system, code) of this CodeableConcept's first coding. Its text and display are read (the
        gateway derives them from the code); a second coding stays unread, so it is refused."""
        self.raw("text")
        codings = self.items("coding")
        if not codings:
            return None, None
        first = codings[0]
        first.raw("display")
        return first.raw("system"), first.raw("code")


def _unread(value: Any, expr: str, used: set[str], out: list[str]) -> bool:
    """Collect the highest unread elements; returns True when nothing in ``value`` was read."""
    if expr in used:
        return False
    if isinstance(value, dict):
        children = [(f"{expr}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        children = [(f"{expr}[{i}]", v) for i, v in enumerate(value)]
    else:
        return True
    results = [(e, _unread(v, e, used, out)) for e, v in children]
    if children and all(unread for _, unread in results):
        return True
    out.extend(e for e, unread in results if unread)
    return False


# --- the narrative ------------------------------------------------------------------------------

_DIV = re.compile(rf'<div xmlns="{re.escape(XHTML_NS)}">(.*)</div>', re.S)
_PART = re.compile(
    r"<p><b>(?P<label>[^<]*):</b></p><ul>(?P<items>(?:<li>[^<]*</li>)*)</ul>"
    r"|<p><b>(?P<plabel>[^<]*):</b> (?P<text>[^<]*)</p>"
    r"|<p>(?P<bare>[^<]*)</p>"
)
_LI = re.compile(r"<li>([^<]*)</li>")


def _narrative(div: str) -> dict[str, Any] | None:
    """``{label: text or [items]}`` from generated narrative (``None`` label: an unlabelled paragraph);
    ``None`` when the narrative is not in the generated form."""
    match = _DIV.fullmatch(div)
    if match is None:
        return None
    body, pos, out = match.group(1), 0, {}
    while pos < len(body):
        part = _PART.match(body, pos)
        if part is None:
            return None
        if part.group("label") is not None:
            out[html.unescape(part.group("label"))] = [html.unescape(i) for i in _LI.findall(part.group("items"))]
        elif part.group("plabel") is not None:
            out[html.unescape(part.group("plabel"))] = html.unescape(part.group("text"))
        else:
            out[None] = html.unescape(part.group("bare"))
        pos = part.end()
    return out


# --- the mapper ---------------------------------------------------------------------------------


class _Mapper:
    def __init__(self, bundle: dict[str, Any]) -> None:
        self.used: set[str] = set()
        self.root = _Node(bundle, "Bundle", self.used)
        self.problems: list[Issue] = []
        self.by_url: dict[str, _Node] = {}
        self.patient_url: str | None = None
        self.narratives: dict[str, dict[str, Any]] = {}
        self.section_exprs: dict[str, str] = {}
        self.flags: dict[str, _Node] = {}
        self.doc: dict[str, Any] = {}
        self.author_code: str | None = None

    def problem(self, code: str, message: str, expr: str) -> None:
        self.problems.append(Issue(code, message, expr))

    # -- references

    def ref(self, node: _Node | None, key: str, want: str) -> None:
        """A Reference at ``key`` must point at the bundle's resource of type ``want``."""
        target = node.child(key) if node else None
        if target is None:
            return
        target.raw("display")
        reference = target.raw("reference")
        found = self.by_url.get(reference) if isinstance(reference, str) else None
        if found is None or found.raw("resourceType") != want:
            self.problem("invalid", f"must reference the document's {want}", f"{target.expr}.reference")

    def refs(self, node: _Node, key: str, want: str) -> None:
        for item in node.items(key):
            item.raw("display")
            reference = item.raw("reference")
            found = self.by_url.get(reference) if isinstance(reference, str) else None
            if found is None or found.raw("resourceType") != want:
                self.problem("invalid", f"must reference the document's {want}", f"{item.expr}.reference")

    # -- the bundle

    def run(self) -> None:
        root = self.root
        for key in ("resourceType", "id", "meta", "identifier", "timestamp"):
            root.raw(key)
        if root.raw("type") != "document":
            self.problem("value", "Bundle.type must be document", "Bundle.type")
        entries = root.items("entry")
        for entry in entries:
            url = entry.raw("fullUrl")
            resource = entry.child("resource")
            if resource is None:
                self.problem("required", "every entry needs a resource", entry.expr)
                continue
            resource.raw("resourceType")
            resource.raw("id")
            resource.raw("meta")  # security labels: the gateway labels from its own field catalogue
            if isinstance(url, str):
                self.by_url[url] = resource
        if (
            not entries
            or entries[0].child("resource") is None
            or entries[0].value["resource"].get("resourceType") != "Composition"
        ):
            self.problem("structure", "a document Bundle starts with its Composition", "Bundle.entry[0]")
            return
        patients = [e for e in self.by_url.items() if e[1].value.get("resourceType") == "Patient"]
        if len(patients) != 1:
            self.problem("structure", "a document has exactly one Patient", "Bundle.entry")
            return
        self.patient_url = patients[0][0]
        handlers: dict[str, Callable[[_Node], None]] = {
            "Patient": self.patient,
            "Organization": self.organization,
            "ClinicalImpression": self.clinical_impression,
            "Flag": self.flag,
            "Observation": self.observation,
            "RiskAssessment": self.risk_assessment,
            "Condition": self.condition,
            "ServiceRequest": self.service_request,
            "Consent": self.consent,
        }
        for entry in entries[1:]:
            resource = entry.child("resource")
            if resource is None:
                continue
            handler = handlers.get(resource.value.get("resourceType"))
            if handler is None:
                self.problem(
                    "not-supported", "this resource type is not part of an L&D assessment document", resource.expr
                )
                resource.mark()
                continue
            handler(resource)
        self.composition(entries[0].child("resource"))  # type: ignore[arg-type]
        self.from_narrative()

    def composition(self, c: _Node) -> None:
        for ext in c.items("extension"):
            if ext.value.get("url") in (t.COMPOSITION_VERSION_EXTENSION, t.DISCLOSURE_EXTENSION):
                ext.mark()  # the gateway assigns versions; a disclosure extension describes a past disclosure
        identifier = c.child("identifier")
        system = identifier.raw("system") if identifier else None
        value = identifier.raw("value") if identifier else None
        if system != LOCAL_REFERENCE_SYSTEM or not isinstance(value, str):
            self.problem(
                "required",
                f"Composition.identifier must give the L&D service's record reference under {LOCAL_REFERENCE_SYSTEM}",
                f"{c.expr}.identifier",
            )
        else:
            self.doc["local_reference"] = value
        if c.raw("status") not in ("final", "amended"):
            self.problem("value", "Composition.status must be final or amended", f"{c.expr}.status")
        system, code, _ = c.coding("type")
        if (system, code) != (t.LOINC_SYSTEM, t.DOCUMENT_TYPE["coding"][0]["code"]):
            self.problem("code-invalid", "Composition.type must be LOINC 11488-4", f"{c.expr}.type")
        for key in ("date", "title", "confidentiality"):
            c.raw(key)
        self.ref(c, "subject", "Patient")
        self.refs(c, "author", "Organization")
        self.ref(c, "custodian", "Organization")
        for section in c.items("section"):
            section.raw("title")
            _, code, _ = section.coding("code")
            if code not in _SECTION_CODES or code in self.section_exprs:
                self.problem(
                    "code-invalid", "not a known section code, or a section given twice", f"{section.expr}.code"
                )
                continue
            self.section_exprs[code] = section.expr
            for item in section.items("entry"):
                item.raw("display")
                reference = item.raw("reference")
                if not isinstance(reference, str) or reference not in self.by_url:
                    self.problem("invalid", "section entries must reference resources in the document", item.expr)
            text = section.child("text")
            if text is None:
                continue
            if text.raw("status") != "generated":
                self.problem("value", "section narrative must be generated", f"{text.expr}.status")
            div = text.raw("div")
            parsed = _narrative(div) if isinstance(div, str) else None
            if parsed is None:
                self.problem(
                    "structure", "section narrative is not in the gateway's generated form", f"{text.expr}.div"
                )
                continue
            self.narratives[code] = parsed

    def organization(self, o: _Node) -> None:
        o.raw("name")
        for ident in o.items("identifier"):
            if ident.value.get("system") == t.AGENCY_CODE_SYSTEM and self.author_code is None:
                ident.raw("system")
                self.author_code = ident.raw("value")

    def patient(self, p: _Node) -> None:
        by_system = {system: fid.removeprefix("identity.") for fid, system in t.IDENTIFIER_SYSTEMS.items()}
        subject: dict[str, Any] = {}
        links = []
        for ident in p.items("identifier"):
            system = ident.value.get("system")
            if system in by_system and ident.value.get("use") in (None, "official"):
                ident.raw("system")
                ident.raw("use")
                subject[by_system[system]] = ident.raw("value")
            elif isinstance(system, str) and system.startswith(t.CASE_REFERENCE_SYSTEM_PREFIX):
                assigner = ident.child("assigner")
                agency = assigner.child("identifier") if assigner else None
                if agency is None or agency.value.get("system") != t.AGENCY_CODE_SYSTEM:
                    self.problem("required", "a case reference needs its agency as assigner", ident.expr)
                    continue
                code = agency.raw("value")
                agency.raw("system")
                assigner.raw("display")  # type: ignore[union-attr]
                if not isinstance(code, str) or t.case_reference_system(code) != system:
                    self.problem("invariant", "the case reference system does not name its assigner", ident.expr)
                    continue
                for key in ("system", "use", "type"):
                    ident.raw(key)
                links.append({"agency_code": code, "case_reference": ident.raw("value")})
        names = []
        for name in p.items("name"):
            item: dict[str, Any] = {}
            use = name.raw("use")
            if use not in _NAME_USE:
                self.problem("value", "name use must be official, usual or nickname (alias)", f"{name.expr}.use")
            else:
                item["use"] = _NAME_USE[use]
            if name.has("family"):
                item["family"] = name.raw("family")
            if name.has("given"):
                item["given"] = name.raw("given")
            names.append(item)
        subject["names"] = names
        if p.has("birthDate"):
            subject["date_of_birth"] = p.raw("birthDate")
        self.doc["subject"] = subject
        self.doc["case_links"] = links

    def _finding(self, r: _Node, allowed: set[str]) -> str | None:
        system, code, _ = r.coding("code")
        if system != t.FINDING_SYSTEM or code not in allowed:
            self.problem("code-invalid", "this code is not one the mapping understands", f"{r.expr}.code")
            return None
        return code

    def _common(self, r: _Node, *keys: str) -> None:
        for key in keys:
            r.raw(key)
        self.ref(r, "subject", "Patient")

    def _note(self, r: _Node) -> str | None:
        notes = r.items("note")
        if len(notes) > 1:
            self.problem("structure", "at most one note", f"{r.expr}.note[1]")
        return notes[0].raw("text") if notes else None

    def clinical_impression(self, r: _Node) -> None:
        if self._finding(r, {"vulnerability-assessment"}):
            self._common(r, "status")
            self.doc["vulnerability_summary"] = r.raw("summary")

    def flag(self, r: _Node) -> None:
        code = self._finding(r, _FLAG_FINDINGS)
        if code is None:
            return
        if code in self.flags:
            self.problem("duplicate", "this flag is given twice", r.expr)
        self.flags[code] = r
        self._common(r, "status", "category")
        self.ref(r, "author", "Organization")

    def observation(self, r: _Node) -> None:
        code = self._finding(r, _OBSERVATION_FINDINGS)
        if code is None:
            return
        self._common(r, "status", "dataAbsentReason")
        self.refs(r, "performer", "Organization")
        note = self._note(r)
        if code == "fitness-to-interview":
            value: dict[str, Any] = {}
            if r.has("valueCodeableConcept"):
                system, status, _ = r.coding("valueCodeableConcept")
                if system != t.INTERVIEW_FITNESS_SYSTEM or status not in t.INTERVIEW_FITNESS_LABEL:
                    self.problem("code-invalid", "unknown fitness code", f"{r.expr}.valueCodeableConcept")
                value["status"] = status
            self._reasons(r, value, t.INTERVIEW_FITNESS_REASON_SYSTEM, t.INTERVIEW_FITNESS_REASON_LABEL)
            _put(value, "explanation", note)
            self.doc.setdefault("fitness", {})["interview"] = value
        elif code == "fitness-to-plead-concerns":
            value = {"concerns": r.raw("valueBoolean")}
            self._reasons(r, value, t.PLEAD_REASON_SYSTEM, t.PLEAD_REASON_LABEL)
            _put(value, "explanation", note)
            self.doc.setdefault("fitness", {})["plead"] = value
        elif code == "diversion-suitability":
            options = []
            for component in r.items("component"):
                _, ccode, _ = component.coding("code")
                system, option, _ = component.coding("valueCodeableConcept")
                if ccode != "diversion-option" or system != t.DIVERSION_OPTION_SYSTEM:
                    self.problem("code-invalid", "not a diversion option", component.expr)
                options.append(option)
            value = {"suitable": r.raw("valueBoolean")}
            if options:
                value["options"] = options
            _put(value, "notes", note)
            self.doc["diversion"] = value
        else:
            key, labels = _REQUIREMENTS[code]
            value = {}
            for component in r.items("component"):
                _, ccode, _ = component.coding("code")
                req, _, what = (ccode or "").partition("-")
                if req not in labels or what not in ("suitable", "consents"):
                    self.problem("code-invalid", "not a treatment requirement finding", f"{component.expr}.code")
                    continue
                value.setdefault(req, {})[what] = component.raw("valueBoolean")
            _put(value, "notes", note)
            self.doc[key] = value

    def _reasons(self, r: _Node, value: dict[str, Any], system: str, labels: Mapping[str, str]) -> None:
        """Coded reasons, one Observation component each (as ``document.py`` writes them)."""
        reasons = []
        for component in r.items("component"):
            _, ccode, _ = component.coding("code")
            csystem, reason, _ = component.coding("valueCodeableConcept")
            if ccode != "reason" or csystem != system or reason not in labels:
                self.problem("code-invalid", "not a reason this finding understands", component.expr)
                continue
            reasons.append(reason)
        if reasons:
            value["reasons"] = reasons

    def risk_assessment(self, r: _Node) -> None:
        self._common(r, "status")
        value: dict[str, Any] = {}
        for prediction in r.items("prediction"):
            _, outcome, _ = prediction.coding("outcome")
            _, level, _ = prediction.coding("qualitativeRisk")
            key = {"harm-to-self": "to_self", "harm-to-others": "to_others"}.get(outcome or "")
            if key is None or level not in _RISK:
                self.problem("code-invalid", "not a risk level the mapping understands", prediction.expr)
                continue
            value[key] = _RISK[level]
        _put(value, "summary", self._note(r))
        self.doc.setdefault("risk", {})["assessment"] = value

    def condition(self, r: _Node) -> None:
        self._common(r)
        system, code, _ = r.coding("code")
        _, ver, _ = r.coding("verificationStatus")
        concept = r.value.get("code", {})
        coding = (concept.get("coding") or [{}])[0]
        if ver not in _DIAGNOSIS:
            self.problem("code-invalid", "verificationStatus must be confirmed, provisional or unconfirmed", r.expr)
        self.doc.setdefault("diagnoses", []).append(
            {"code": code, "system": system, "display": coding.get("display"), "status": _DIAGNOSIS.get(ver or "")}
        )

    def service_request(self, r: _Node) -> None:
        self._common(r, "status", "intent", "category", "authoredOn")
        self.ref(r, "requester", "Organization")
        status = None
        for ext in r.items("extension"):
            coding = ext.child("valueCoding")
            if (
                ext.value.get("url") == t.REFERRAL_STATUS_EXTENSION
                and coding is not None
                and coding.value.get("system") == t.REFERRAL_STATUS_SYSTEM
            ):
                ext.raw("url")
                coding.raw("system")
                coding.raw("display")
                status = coding.raw("code")
        if status not in t.REFERRAL_STATUS_LABEL:
            self.problem("required", "the referral-status extension is required", f"{r.expr}.extension")
        elif r.value.get("status") != t.REFERRAL_REQUEST_STATUS[status]:
            self.problem("invariant", "status does not match the referral-status extension", f"{r.expr}.status")
        service = (r.raw("code") or {}).get("text")
        for performer in r.items("performer"):
            if performer.value != {"display": service}:
                self.problem("invariant", "the performer must be the referred-to service", performer.expr)
            performer.mark()
        need = None
        reasons = r.items("reasonCode")
        if reasons:
            system, need = reasons[0].concept()
            if system != t.REFERRAL_NEED_SYSTEM:
                self.problem("code-invalid", "reasonCode must use the referral-need system", reasons[0].expr)
        self.doc.setdefault("referrals", []).append(
            {"service": service, "need": need, "status": status, "date": r.value.get("authoredOn")}
        )

    def consent(self, r: _Node) -> None:
        r.raw("patient")
        self.ref(r, "patient", "Patient")
        self.refs(r, "organization", "Organization")
        for key in ("scope", "category", "policyRule"):
            r.raw(key)
        status = None
        for ext in r.items("extension"):
            if ext.value.get("url") == t.CONSENT_STATUS_EXTENSION:
                status = (ext.value.get("valueCoding") or {}).get("code")
                if (ext.value.get("valueCoding") or {}).get("system") == t.CONSENT_STATUS_SYSTEM:
                    ext.mark()
        if status not in t.CONSENT_STATE:
            self.problem("required", "the consent-status extension is required", f"{r.expr}.extension")
        elif r.raw("status") != t.CONSENT_STATE[status]:
            self.problem("invariant", "status does not match the consent-status extension", f"{r.expr}.status")
        value: dict[str, Any] = {
            "status": status,
            "recorded_at": r.raw("dateTime"),
            "limited_to_agencies": [],
            "limited_to_purposes": [],
            "gillick_competent": None,
            "best_interests_decision": None,
        }
        provision = r.child("provision")
        if provision is not None:
            provision.raw("type")
            for actor in provision.items("actor"):
                actor.raw("role")
                ref = actor.child("reference")
                ident = ref.child("identifier") if ref else None
                if ident is None or ident.value.get("system") != t.AGENCY_CODE_SYSTEM:
                    self.problem("code-invalid", "a consent actor must be an agency code", actor.expr)
                    continue
                ident.raw("system")
                ref.raw("display")  # type: ignore[union-attr]
                value["limited_to_agencies"].append(ident.raw("value"))
            for purpose in provision.items("purpose"):
                if purpose.value.get("system") != t.PURPOSE_OF_USE_SYSTEM:
                    self.problem("code-invalid", "a consent purpose must be a purpose of use", purpose.expr)
                    continue
                purpose.raw("system")
                value["limited_to_purposes"].append(purpose.raw("code"))
        self.doc["consent"] = value

    # -- values that only the narrative carries

    def from_narrative(self) -> None:
        n = self.narratives
        if (ctx := n.get("assessment")) is not None:
            context: dict[str, Any] = {}
            _put(context, "assessed_at", ctx.get("Assessed"))
            setting = ctx.get("Setting")
            _put(context, "setting", _SETTING.get(setting, setting) if isinstance(setting, str) else None)
            _put(context, "service_name", ctx.get("Assessing service"))
            self.doc["context"] = context
        if (needs := n.get("needs")) is not None:
            out: dict[str, Any] = {}
            if "Appropriate adult required" in needs:
                aa: dict[str, Any] = {"required": _YES_NO.get(needs["Appropriate adult required"])}
                reasons = needs.get("Appropriate adult: reasons")
                if isinstance(reasons, list) and reasons:
                    aa["reasons"] = [_AA_REASON.get(label, label) for label in reasons]
                out["appropriate_adult"] = _put(aa, "explanation", needs.get("Appropriate adult: explanation"))
            if "Communication needs" in needs or "Adjustments" in needs:
                out["communication"] = _put(
                    {"needs": needs.get("Communication needs", [])}, "adjustments", needs.get("Adjustments")
                )
            if "Intermediary recommended" in needs:
                out["intermediary"] = _put(
                    {"recommended": _YES_NO.get(needs["Intermediary recommended"])},
                    "reason",
                    needs.get("Intermediary: reason"),
                )
            if out:
                self.doc["needs"] = out
        if (clinical := n.get("clinical")) is not None:
            _put(self.doc, "clinical_detail", clinical.get("Clinical detail"))
            if isinstance(self.doc.get("consent"), dict):
                if "Gillick competent" in clinical:
                    self.doc["consent"]["gillick_competent"] = _YES_NO.get(clinical["Gillick competent"])
                self.doc["consent"]["best_interests_decision"] = clinical.get("Best-interests decision")
        if (risk := n.get("risk")) is not None and "Safeguarding concerns" in risk:
            self.doc.setdefault("risk", {})["safeguarding"] = _put(
                {"concerns": _YES_NO.get(risk["Safeguarding concerns"])}, "summary", risk.get("Safeguarding summary")
            )
        if (referrals := n.get("referrals")) is not None:
            _put(self.doc, "engagement", referrals.get("Engagement with services"))
        if (third := n.get("third-party")) is not None:
            _put(self.doc, "third_party_information", third.get("Third-party information"))
        if (consent := n.get("consent")) is not None and isinstance(self.doc.get("consent"), dict):
            value = self.doc["consent"]
            if not value["limited_to_agencies"] and not value["limited_to_purposes"]:
                # A limitation on a consent that was not given has no Consent.provision; only the narrative says it.
                value["limited_to_agencies"] = list(consent.get("Limited to agencies", []))
                value["limited_to_purposes"] = list(consent.get("Limited to purposes", []))
            who = consent.get("Consent decided by a person with parental responsibility")
            if who is not None:
                value["given_by"] = _put({"name": who}, "relationship", consent.get("Relationship to the child"))

    def check_flags(self) -> None:
        """A Flag is raised exactly when the canonical value calls for one (as ``document.py`` raises it)."""
        d = self.doc
        risk = (d.get("risk") or {}).get("assessment") or {}
        wanted = {
            "appropriate-adult-required": ((d.get("needs") or {}).get("appropriate_adult") or {}).get("required"),
            "communication-needs": bool(((d.get("needs") or {}).get("communication") or {}).get("needs")),
            "intermediary-recommended": ((d.get("needs") or {}).get("intermediary") or {}).get("recommended"),
            "risk-of-harm": risk.get("to_self") in ("medium", "high") or risk.get("to_others") in ("medium", "high"),
            "safeguarding-concerns": ((d.get("risk") or {}).get("safeguarding") or {}).get("concerns"),
        }
        for code, raised in wanted.items():
            if raised is True and code not in self.flags:
                self.problem(
                    "invariant", f"the {code} Flag is missing although the section calls for it", "Bundle.entry"
                )
            if raised is not True and code in self.flags:
                self.problem("invariant", f"the {code} Flag contradicts its section", self.flags[code].expr)


def _put(target: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    if value is not None:
        target[key] = value
    return target


def _schema_problems(data: Any) -> list[Issue]:
    """fhir.resources (R4B models) validation: element types, cardinality, unknown elements."""
    try:
        Bundle.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors(include_input=False, include_url=False):
            expr = "Bundle"
            for part in error["loc"]:
                expr += f"[{part}]" if isinstance(part, int) else f".{part}"
            problems.append(Issue("structure", str(error["msg"]), expr))
        return problems or [Issue("structure", "not a valid FHIR R4 Bundle", "Bundle")]
    return []


def _projection(assessment: Mapping[str, Any], catalogue: Catalogue) -> dict[str, Any]:
    # Each field as it is disclosed (its members only); case links live in the Patient, not a section.
    out = {}
    for field in catalogue:
        value = field_value(assessment, field, None)
        if value is not None:
            out[field.id] = value
    return out


def map_document(data: Any, catalogue: Catalogue) -> Inbound:
    """Map a FHIR document Bundle (parsed JSON) to a canonical assessment, or raise :class:`InboundError`.

    The result still has to pass ``validate_assessment``: this maps, it does not judge the content.
    """
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise InboundError([Issue("structure", "the body must be a FHIR Bundle", "Bundle")])
    problems = _schema_problems(data)
    if problems:
        raise InboundError(problems)
    mapper = _Mapper(data)
    mapper.run()
    unread: list[str] = []
    if _unread(data, "Bundle", mapper.used, unread):
        unread.append("Bundle")
    if not mapper.problems:
        # Only a complete mapping can be checked against its own rendering.
        mapper.check_flags()
        if not mapper.problems:
            _check_narrative(mapper, catalogue)
    problems = mapper.problems + [
        Issue("not-supported", "the mapping does not understand this element; it was not accepted", expr)
        for expr in unread
    ]
    if problems:
        raise InboundError(problems)
    return Inbound(mapper.doc, mapper.author_code)


def _check_narrative(mapper: _Mapper, catalogue: Catalogue) -> None:
    """Render the mapped assessment again; every section's narrative must be what the gateway generates."""
    meta = DocumentMeta(
        bundle_id="inbound",
        disclosure_id=str(uuid.UUID(int=0)),
        assessment_id="inbound",
        assessment_version=1,
        timestamp=datetime(2000, 1, 1, tzinfo=UTC),
        publisher_name="inbound",
        publisher_code="inbound",
        recipient_agency_code="inbound",
        recipient_agency_type="ld-service",
        purpose="ld-service",
        obligations=(),
        withheld_count=0,
    )
    try:
        rendered = render_document(_projection(mapper.doc, catalogue), meta, {f.id: f.labels for f in catalogue})
    except (ValueError, TypeError, KeyError, AttributeError):
        mapper.problem("value", "the document's values cannot be expressed as an assessment", "Bundle")
        return
    expected = {
        s["code"]["coding"][0]["code"]: s.get("text", {}).get("div")
        for s in rendered["entry"][0]["resource"].get("section", [])
    }
    received = mapper.root.value["entry"][0]["resource"].get("section", [])
    for code, expr in mapper.section_exprs.items():
        section = next(s for s in received if _section_code(s) == code)
        if section.get("text", {}).get("div") != expected.get(code):
            mapper.problem(
                "invariant",
                "the narrative does not match what the section's entries and values say (see docs/import.md)",
                f"{expr}.text.div",
            )
    for code in expected:
        if code not in mapper.section_exprs:
            mapper.problem(
                "required",
                f"the document has content for the {code} section but no such section",
                "Bundle.entry[0].resource.section",
            )


def _section_code(section: Mapping[str, Any]) -> str | None:
    codings = (section.get("code") or {}).get("coding") or [{}]
    return codings[0].get("code")
