"""Render a projected assessment as a FHIR R4 document Bundle (plain dicts, no model objects).

**Build up, never strip down.** :func:`render_document` receives a *projection*: a mapping from
catalogue field id to that field's value, holding only the fields the policy released (and that are
present). It never sees the assessment. Every resource, every narrative sentence and every security
label is built from one projected field, so a field that is not in the projection leaves no trace:
no section, no narrative, no resource, no label.

Shape of the document (see ``tests/fhir`` for the executable version):

* ``Bundle`` ``type=document``; ``identifier`` = ``urn:uuid:<disclosure id>``; ``timestamp``;
  ``meta.security`` = the policy obligations (confidentiality, refrain/obligation codes) followed by the
  sensitivity labels of the released fields only.
* ``Composition`` first: ``status=final``, ``type`` LOINC 11488-4 *Consult note* (text "Liaison and
  Diversion assessment summary"), ``subject`` → Patient, ``author``/``custodian`` → the publishing
  L&D service's Organization, ``confidentiality`` = the most restrictive confidentiality obligation,
  ``identifier`` = the assessment id, the assessment version in the R5 cross-version
  ``extension-Composition.version``, and a local ``disclosure`` extension (recipient agency and type,
  purpose of use, number of withheld fields). One ``section`` per need area that has at least one
  released field, each with generated XHTML narrative built only from that section's fields.
* ``Patient`` (identifiers, names and birth date only for released identity fields; case references
  become Patient identifiers, one identifier system per agency, so ``patient.identifier`` search
  works for them too), ``Organization`` (the publisher; agency codes are local, so a local
  identifier system, not the ODS one).
* Per released field: ``ClinicalImpression`` (vulnerability summary), ``Flag`` (appropriate adult,
  communication needs, intermediary, risk of harm, safeguarding), ``Observation`` (fitness to
  interview, fitness-to-plead concerns, diversion suitability, treatment requirement suitability),
  ``RiskAssessment`` (risk to self/others), ``Condition`` (diagnoses, codes as given),
  ``ServiceRequest`` (referrals), ``Consent``. Each carries the sensitivity labels of its field in
  ``meta.security``.

Resource ids and ``fullUrl`` values are ``uuid5`` of the bundle id and a fixed local key (never a
value), so the same input renders the same bytes, and ids differ between disclosures.

Mapping decisions where FHIR has no exact equivalent (the exact canonical value is always kept in the
narrative, and in a local extension where noted):

* name ``alias`` → HumanName.use ``nickname`` (R4 has no "alias"; ``anonymous`` means a pseudonym
  used for privacy, which an alias known to the police is not).
* consent ``given``/``declined``/``withdrawn``/``not-possible`` → Consent.status
  ``active``/``rejected``/``inactive``/``inactive``, plus the ``consent-status`` extension.
* diagnosis ``reported`` → verificationStatus ``unconfirmed``.
* referral ``made``/``accepted``/``attended``/``declined`` → ServiceRequest.status
  ``active``/``active``/``completed``/``revoked``, plus the ``referral-status`` extension.
* risk ``medium`` → risk-probability ``moderate``; a risk Flag is raised only at medium or high.
* Flags are raised only for a positive finding (appropriate adult required, communication needs
  listed, intermediary recommended, safeguarding concerns); a negative is said in the narrative.
"""

from __future__ import annotations

import copy
import html
import json
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gateway.fhir import terminology as t

XHTML_NS = "http://www.w3.org/1999/xhtml"
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, t.LOCAL_BASE + "/Bundle")


@dataclass(frozen=True)
class DocumentMeta:
    """What the disclosure path knows about this rendering; none of it comes from the assessment."""

    bundle_id: str
    disclosure_id: str
    assessment_id: str
    assessment_version: int
    timestamp: datetime
    publisher_name: str
    publisher_code: str
    recipient_agency_code: str
    recipient_agency_type: str
    purpose: str
    obligations: tuple[str, ...]
    withheld_count: int


def document_bytes(bundle: Mapping[str, Any]) -> bytes:
    """The exact bytes served and hashed: compact JSON, UTF-8, key order as built."""
    return json.dumps(bundle, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


# --- small helpers ------------------------------------------------------------------------------


def _instant(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("DocumentMeta.timestamp must be timezone-aware")
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _p(label: str, text: Any) -> str:
    return f"<p><b>{_esc(label)}:</b> {_esc(text)}</p>"


def _ul(label: str, items: Iterable[Any]) -> str:
    lis = "".join(f"<li>{_esc(i)}</li>" for i in items)
    return f"<p><b>{_esc(label)}:</b></p><ul>{lis}</ul>" if lis else ""


def _yes_no(value: Any) -> str:
    return "Yes" if value is True else "No" if value is False else "Not recorded"


def _text(value: Any) -> str | None:
    """A non-empty string, or None; anything else is a shape error."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {type(value).__name__}")
    return value if value.strip() else None


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {type(value).__name__}")
    return [s for s in (_text(v) for v in value) if s is not None]


def _obj(value: Any, field_id: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{field_id}: expected an object, got {type(value).__name__}")
    return value


def _objs(value: Any, field_id: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        raise ValueError(f"{field_id}: expected a list, got {type(value).__name__}")
    return [_obj(v, field_id) for v in value]


def _bool(value: Any, field_id: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{field_id}: expected true/false, got {type(value).__name__}")


def _mapped(value: Any, mapping: Mapping[str, str], field_id: str) -> str:
    """A value from a closed set bound to a required FHIR value set: unknown values fail closed."""
    if value not in mapping:
        raise ValueError(f"{field_id}: unexpected value {value!r}")
    return mapping[value]


def _note(text: str | None) -> list[dict[str, str]] | None:
    return [{"text": text}] if text else None


def _prune(obj: dict[str, Any]) -> dict[str, Any]:
    """Drop keys whose value is None (FHIR forbids empty elements)."""
    return {k: v for k, v in obj.items() if v is not None}


# --- the renderer -------------------------------------------------------------------------------


class _Doc:
    """Collects entries for one document; all ids derive from the bundle id and a fixed key."""

    def __init__(self, meta: DocumentMeta, labels: Mapping[str, Sequence[str]]) -> None:
        self.meta = meta
        self.labels = labels
        self.entries: list[dict[str, Any]] = []

    @property
    def patient_ref(self) -> dict[str, str]:
        return {"reference": self.url("Patient")}

    @property
    def org_ref(self) -> dict[str, str]:
        return {"reference": self.url("Organization/publisher"), "display": self.meta.publisher_name}

    def url(self, key: str) -> str:
        return "urn:uuid:" + self.uuid(key)

    def uuid(self, key: str) -> str:
        return str(uuid.uuid5(_UUID_NAMESPACE, f"{self.meta.bundle_id}/{key}"))

    def add(self, key: str, resource: dict[str, Any], *field_ids: str) -> dict[str, str]:
        """Add a resource built from ``field_ids`` under ``key``; returns the Reference to it.

        The resource carries the sensitivity labels of the fields it was built from.
        """
        rid = self.uuid(key)
        body: dict[str, Any] = {"resourceType": resource.pop("resourceType"), "id": rid}
        codes = _unique(code for fid in field_ids for code in self.labels[fid])
        if codes:
            body["meta"] = {"security": [t.sensitivity_coding(code) for code in codes]}
        body.update(_prune(resource))
        self.entries.append({"fullUrl": "urn:uuid:" + rid, "resource": body})
        return {"reference": "urn:uuid:" + rid}


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)


#: What one field contributes to its section: narrative fragments and references to entries.
_Part = tuple[list[str], list[dict[str, str]]]
_FieldRenderer = Callable[[_Doc, str, Any], _Part]


def _flag(doc: _Doc, key: str, field_id: str, code: str, category: str, detail: str | None = None) -> dict:
    concept = t.finding(code)
    if detail:
        concept["text"] = f"{concept['text']} ({detail})"
    return doc.add(
        key,
        {
            "resourceType": "Flag",
            "status": "active",
            "category": [
                {
                    "coding": [
                        {
                            "system": t.FLAG_CATEGORY_SYSTEM,
                            "code": category,
                            "display": t.FLAG_CATEGORY_DISPLAY[category],
                        }
                    ]
                }
            ],
            "code": concept,
            "subject": doc.patient_ref,
            "author": doc.org_ref,
        },
        field_id,
    )


def _observation(doc: _Doc, key: str, field_id: str, code: str, **elements: Any) -> dict[str, str]:
    return doc.add(
        key,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": t.finding(code),
            "subject": doc.patient_ref,
            "performer": [doc.org_ref],
            **elements,
        },
        field_id,
    )


def _assessment_context(doc: _Doc, fid: str, value: Any) -> _Part:
    ctx = _obj(value, fid)
    parts = []
    if (at := _text(ctx.get("assessed_at"))) is not None:
        parts.append(_p("Assessed", at))
    if (setting := _text(ctx.get("setting"))) is not None:
        parts.append(_p("Setting", t.SETTING_LABEL.get(setting, setting)))
    if (service := _text(ctx.get("service_name"))) is not None:
        parts.append(_p("Assessing service", service))
    return parts, []


def _vulnerability_summary(doc: _Doc, fid: str, value: Any) -> _Part:
    summary = _text(value)
    if summary is None:
        return [], []
    ref = doc.add(
        "ClinicalImpression/vulnerability",
        {
            "resourceType": "ClinicalImpression",
            "status": "completed",
            "code": t.finding("vulnerability-assessment"),
            "subject": doc.patient_ref,
            "summary": summary,
        },
        fid,
    )
    return [f"<p>{_esc(summary)}</p>"], [ref]


def _coded_reasons(label: str, value: Any, labels: Mapping[str, str], explanation: Any) -> list[str]:
    """A coded list of reasons and the practitioner's text for this audience, as narrative."""
    codes = _texts(value)
    parts = []
    if codes:
        parts.append(_ul(f"{label}: reasons", [labels.get(c, c) for c in codes]))
    if (text := _text(explanation)) is not None:
        parts.append(_p(f"{label}: explanation", text))
    return parts


def _reason_components(system: str, value: Any, labels: Mapping[str, str]) -> list[dict[str, Any]] | None:
    """One Observation component per coded reason."""
    return [
        {"code": t.finding("reason"), "valueCodeableConcept": t.local_concept(system, c, dict(labels))}
        for c in _texts(value)
    ] or None


def _appropriate_adult(doc: _Doc, fid: str, value: Any) -> _Part:
    aa = _obj(value, fid)
    required = _bool(aa.get("required"), fid)
    parts = [_p("Appropriate adult required", _yes_no(required))]
    parts += _coded_reasons(
        "Appropriate adult", aa.get("reasons"), t.APPROPRIATE_ADULT_REASON_LABEL, aa.get("explanation")
    )
    refs = []
    if required:
        refs.append(_flag(doc, "Flag/appropriate-adult", fid, "appropriate-adult-required", "contact"))
    return parts, refs


def _communication(doc: _Doc, fid: str, value: Any) -> _Part:
    comm = _obj(value, fid)
    needs = _texts(comm.get("needs"))
    adjustments = _text(comm.get("adjustments"))
    parts = []
    if needs:
        parts.append(_ul("Communication needs", needs))
    if adjustments:
        parts.append(_p("Adjustments", adjustments))
    refs = []
    if needs:
        refs.append(_flag(doc, "Flag/communication", fid, "communication-needs", "contact", "; ".join(needs)))
    return parts, refs


def _intermediary(doc: _Doc, fid: str, value: Any) -> _Part:
    inter = _obj(value, fid)
    recommended = _bool(inter.get("recommended"), fid)
    reason = _text(inter.get("reason"))
    parts = [_p("Intermediary recommended", _yes_no(recommended))]
    if reason:
        parts.append(_p("Intermediary: reason", reason))
    refs = []
    if recommended:
        refs.append(_flag(doc, "Flag/intermediary", fid, "intermediary-recommended", "contact"))
    return parts, refs


def _fitness_interview(doc: _Doc, fid: str, value: Any) -> _Part:
    fit = _obj(value, fid)
    status = _text(fit.get("status"))
    notes = _text(fit.get("explanation"))
    parts = []
    if status:
        parts.append(_p("Fitness to be interviewed", t.INTERVIEW_FITNESS_LABEL.get(status, status)))
    parts += _coded_reasons(
        "Fitness to be interviewed", fit.get("reasons"), t.INTERVIEW_FITNESS_REASON_LABEL, fit.get("explanation")
    )
    if not parts:
        return [], []
    value_cc = t.local_concept(t.INTERVIEW_FITNESS_SYSTEM, status, t.INTERVIEW_FITNESS_LABEL) if status else None
    ref = _observation(
        doc,
        "Observation/fitness-interview",
        fid,
        "fitness-to-interview",
        valueCodeableConcept=value_cc,
        component=_reason_components(
            t.INTERVIEW_FITNESS_REASON_SYSTEM, fit.get("reasons"), t.INTERVIEW_FITNESS_REASON_LABEL
        ),
        note=_note(notes),
        dataAbsentReason=None if status else _unknown(),
    )
    return parts, [ref]


def _unknown() -> dict[str, Any]:
    return {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "unknown",
                "display": "Unknown",
            }
        ]
    }


def _fitness_plead(doc: _Doc, fid: str, value: Any) -> _Part:
    plead = _obj(value, fid)
    concerns = _bool(plead.get("concerns"), fid)
    notes = _text(plead.get("explanation"))
    parts = [_p("Concerns about fitness to plead", _yes_no(concerns))]
    parts += _coded_reasons("Fitness to plead", plead.get("reasons"), t.PLEAD_REASON_LABEL, plead.get("explanation"))
    ref = _observation(
        doc,
        "Observation/fitness-plead",
        fid,
        "fitness-to-plead-concerns",
        valueBoolean=concerns,
        component=_reason_components(t.PLEAD_REASON_SYSTEM, plead.get("reasons"), t.PLEAD_REASON_LABEL),
        note=_note(notes),
        dataAbsentReason=_unknown() if concerns is None else None,
    )
    return parts, [ref]


def _diversion(doc: _Doc, fid: str, value: Any) -> _Part:
    div = _obj(value, fid)
    suitable = _bool(div.get("suitable"), fid)
    options = _texts(div.get("options"))
    notes = _text(div.get("notes"))
    parts = [_p("Suitable for diversion", _yes_no(suitable))]
    if options:
        parts.append(_ul("Options", [t.DIVERSION_OPTION_LABEL.get(o, o) for o in options]))
    if notes:
        parts.append(_p("Notes", notes))
    components = [
        {
            "code": t.finding("diversion-option"),
            "valueCodeableConcept": t.local_concept(t.DIVERSION_OPTION_SYSTEM, o, t.DIVERSION_OPTION_LABEL),
        }
        for o in options
    ]
    ref = _observation(
        doc,
        "Observation/diversion",
        fid,
        "diversion-suitability",
        valueBoolean=suitable,
        component=components or None,
        note=_note(notes),
        dataAbsentReason=_unknown() if suitable is None else None,
    )
    return parts, [ref]


def _treatment(doc: _Doc, fid: str, value: Any) -> _Part:
    return _requirements(doc, fid, value, t.TREATMENT_REQUIREMENT_LABEL, "treatment-requirement-suitability")


def _youth_requirements(doc: _Doc, fid: str, value: Any) -> _Part:
    return _requirements(doc, fid, value, t.YOUTH_REQUIREMENT_LABEL, "youth-requirement-suitability")


def _requirements(doc: _Doc, fid: str, value: Any, labels: Mapping[str, str], finding: str) -> _Part:
    tr = _obj(value, fid)
    parts: list[str] = []
    components: list[dict[str, Any]] = []
    for req, label in labels.items():
        if tr.get(req) is None:
            continue
        item = _obj(tr[req], fid)
        suitable = _bool(item.get("suitable"), fid)
        consents = _bool(item.get("consents"), fid)
        line = f"suitable: {_yes_no(suitable)}"
        if consents is not None:
            line += f"; the person consents: {_yes_no(consents)}"
        parts.append(_p(label, line))
        if suitable is not None:
            components.append({"code": t.finding(f"{req}-suitable"), "valueBoolean": suitable})
        if consents is not None:
            components.append({"code": t.finding(f"{req}-consents"), "valueBoolean": consents})
    notes = _text(tr.get("notes"))
    if notes:
        parts.append(_p("Notes", notes))
    if not parts:
        return [], []
    ref = _observation(
        doc,
        f"Observation/{finding}",
        fid,
        finding,
        component=components or None,
        note=_note(notes),
    )
    return parts, [ref]


def _diagnoses(doc: _Doc, fid: str, value: Any) -> _Part:
    items = []
    refs = []
    for index, dx in enumerate(_objs(value, fid)):
        code = _text(dx.get("code"))
        system = _text(dx.get("system"))
        display = _text(dx.get("display"))
        status = _text(dx.get("status"))
        if not (code or display):
            continue
        label = display or code
        if status:
            label = f"{label} ({_mapped(status, t.DIAGNOSIS_LABEL, fid)})"
        items.append(label)
        coding = _prune({"system": system, "code": code, "display": display}) if code else None
        ver = _mapped(status, t.DIAGNOSIS_VER_STATUS, fid) if status else None
        refs.append(
            doc.add(
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
                    "code": _prune({"coding": [coding] if coding else None, "text": display or code}),
                    "subject": doc.patient_ref,
                },
                fid,
            )
        )
    return ([_ul("Diagnoses and identified conditions", items)] if items else []), refs


def _clinical_detail(doc: _Doc, fid: str, value: Any) -> _Part:
    detail = _text(value)
    return ([_p("Clinical detail", detail)] if detail else []), []


def _capacity(doc: _Doc, fid: str, value: Any) -> _Part:
    capacity = _obj(value, fid)
    gillick = _bool(capacity.get("gillick_competent"), fid)
    best_interests = _text(capacity.get("best_interests_decision"))
    parts = []
    if gillick is not None:
        parts.append(_p("Gillick competent", _yes_no(gillick)))
    if best_interests:
        parts.append(_p("Best-interests decision", best_interests))
    return parts, []


def _given_by(doc: _Doc, fid: str, value: Any) -> _Part:
    person = _obj(value, fid)
    name, relationship = _text(person.get("name")), _text(person.get("relationship"))
    parts = []
    if name:
        parts.append(_p("Consent decided by a person with parental responsibility", name))
    if relationship:
        parts.append(_p("Relationship to the child", relationship))
    return parts, []


def _risk(doc: _Doc, fid: str, value: Any) -> _Part:
    risk = _obj(value, fid)
    to_self = _text(risk.get("to_self"))
    to_others = _text(risk.get("to_others"))
    summary = _text(risk.get("summary"))
    parts = []
    predictions = []
    levels = []
    for level, label, outcome in (
        (to_self, "Risk to self", "harm-to-self"),
        (to_others, "Risk to others", "harm-to-others"),
    ):
        if level is None:
            continue
        code = _mapped(level, t.RISK_PROBABILITY, fid)
        parts.append(_p(label, t.RISK_LABEL[level]))
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
        parts.append(_p("Summary", summary))
    if not parts:
        return [], []
    refs = [
        doc.add(
            "RiskAssessment/risk",
            {
                "resourceType": "RiskAssessment",
                "status": "final",
                "subject": doc.patient_ref,
                "prediction": predictions or None,
                "note": _note(summary),
            },
            fid,
        )
    ]
    if to_self in ("medium", "high") or to_others in ("medium", "high"):
        refs.append(_flag(doc, "Flag/risk", fid, "risk-of-harm", "safety", "; ".join(levels)))
    return parts, refs


def _safeguarding(doc: _Doc, fid: str, value: Any) -> _Part:
    sg = _obj(value, fid)
    concerns = _bool(sg.get("concerns"), fid)
    summary = _text(sg.get("summary"))
    parts = [_p("Safeguarding concerns", _yes_no(concerns))]
    if summary:
        parts.append(_p("Safeguarding summary", summary))
    refs = []
    if concerns:
        refs.append(_flag(doc, "Flag/safeguarding", fid, "safeguarding-concerns", "safety"))
    return parts, refs


def _referrals(doc: _Doc, fid: str, value: Any) -> _Part:
    items = []
    refs = []
    for index, referral in enumerate(_objs(value, fid)):
        service = _text(referral.get("service"))
        need = _text(referral.get("need"))
        status = _text(referral.get("status"))
        date = _text(referral.get("date"))
        if not (service or need):
            continue
        bits = [service or "Referral"]
        if need:
            bits.append(f"need: {t.REFERRAL_NEED_LABEL.get(need, need)}")
        if status:
            bits.append(f"status: {_mapped(status, t.REFERRAL_STATUS_LABEL, fid).lower()}")
        if date:
            bits.append(f"date: {date}")
        items.append("; ".join(bits))
        refs.append(
            doc.add(
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
                    "status": _mapped(status, t.REFERRAL_REQUEST_STATUS, fid) if status else "unknown",
                    "intent": "order",
                    "category": [
                        {"coding": [{"system": t.SNOMED_SYSTEM, "code": "3457005", "display": "Patient referral"}]}
                    ],
                    "code": {"text": service} if service else None,
                    "subject": doc.patient_ref,
                    "authoredOn": date,
                    "requester": doc.org_ref,
                    "performer": [{"display": service}] if service else None,
                    "reasonCode": [t.local_concept(t.REFERRAL_NEED_SYSTEM, need, t.REFERRAL_NEED_LABEL)]
                    if need
                    else None,
                },
                fid,
            )
        )
    return ([_ul("Referrals", items)] if items else []), refs


def _engagement(doc: _Doc, fid: str, value: Any) -> _Part:
    text = _text(value)
    return ([_p("Engagement with services", text)] if text else []), []


def _third_party(doc: _Doc, fid: str, value: Any) -> _Part:
    text = _text(value)
    return ([_p("Third-party information", text)] if text else []), []


def _consent(doc: _Doc, fid: str, value: Any) -> _Part:
    consent = _obj(value, fid)
    status = _text(consent.get("status"))
    if status is None:
        raise ValueError(f"{fid}: status is required")
    state = _mapped(status, t.CONSENT_STATE, fid)
    recorded = _text(consent.get("recorded_at"))
    agencies = _texts(consent.get("limited_to_agencies"))
    purposes = _texts(consent.get("limited_to_purposes"))
    parts = [_p("Consent to sharing", t.CONSENT_LABEL[status])]
    if recorded:
        parts.append(_p("Recorded", recorded))
    if agencies:
        parts.append(_ul("Limited to agencies", agencies))
    if purposes:
        parts.append(_ul("Limited to purposes", purposes))
    provision = None
    if status == "given" and (agencies or purposes):
        provision = _prune(
            {
                "type": "permit",
                "actor": [
                    {
                        "role": {
                            "coding": [
                                {
                                    "system": t.PARTICIPATION_TYPE_SYSTEM,
                                    "code": "IRCP",
                                    "display": "information recipient",
                                }
                            ]
                        },
                        "reference": {"identifier": {"system": t.AGENCY_CODE_SYSTEM, "value": a}, "display": a},
                    }
                    for a in agencies
                ]
                or None,
                "purpose": [{"system": t.PURPOSE_OF_USE_SYSTEM, "code": p} for p in purposes] or None,
            }
        )
    ref = doc.add(
        "Consent/sharing",
        {
            "resourceType": "Consent",
            "extension": [
                {
                    "url": t.CONSENT_STATUS_EXTENSION,
                    "valueCoding": {
                        "system": t.CONSENT_STATUS_SYSTEM,
                        "code": status,
                        "display": t.CONSENT_LABEL[status],
                    },
                }
            ],
            "status": state,
            "scope": {
                "coding": [{"system": t.CONSENT_SCOPE_SYSTEM, "code": "patient-privacy", "display": "Privacy Consent"}]
            },
            "category": [
                {"coding": [{"system": t.LOINC_SYSTEM, "code": "64292-6", "display": "Release of information consent"}]}
            ],
            "patient": doc.patient_ref,
            "dateTime": recorded,
            "organization": [doc.org_ref],
            "policyRule": {"text": "Liaison and Diversion information sharing with the person's consent"},
            "provision": provision,
        },
        fid,
    )
    return parts, [ref]


@dataclass(frozen=True)
class _Section:
    code: str
    title: str
    fields: tuple[tuple[str, _FieldRenderer], ...]


SECTIONS: tuple[_Section, ...] = (
    _Section("assessment", "Assessment", (("assessment.context", _assessment_context),)),
    _Section("vulnerability", "Vulnerability", (("vulnerability.summary", _vulnerability_summary),)),
    _Section(
        "needs",
        "Needs and adjustments",
        (
            ("needs.appropriate_adult", _appropriate_adult),
            ("needs.communication", _communication),
            ("needs.intermediary", _intermediary),
        ),
    ),
    _Section("fitness", "Fitness", (("fitness.interview", _fitness_interview), ("fitness.plead", _fitness_plead))),
    _Section("diversion", "Diversion", (("diversion.suitability", _diversion),)),
    _Section(
        "treatment",
        "Treatment requirements",
        (("treatment.requirements", _treatment), ("treatment.youth_requirements", _youth_requirements)),
    ),
    _Section(
        "clinical",
        "Clinical",
        (
            ("clinical.diagnoses", _diagnoses),
            ("clinical.detail", _clinical_detail),
            ("clinical.capacity", _capacity),
        ),
    ),
    _Section("risk", "Risk and safeguarding", (("risk.assessment", _risk), ("risk.safeguarding", _safeguarding))),
    _Section(
        "referrals",
        "Referrals and engagement",
        (
            ("referrals.made", _referrals),
            ("referrals.engagement", _engagement),
        ),
    ),
    _Section("third-party", "Third-party information", (("third_party.information", _third_party),)),
    _Section("consent", "Consent", (("consent.status", _consent), ("consent.given_by", _given_by))),
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


def _patient(doc: _Doc, projection: Mapping[str, Any]) -> None:
    identifiers: list[dict[str, Any]] = []
    for fid, system in t.IDENTIFIER_SYSTEMS.items():
        if (value := _text(projection.get(fid))) is not None:
            identifiers.append(
                _prune(
                    {
                        "use": "official" if fid == "identity.nhs_number" else None,
                        "system": system,
                        "value": value,
                    }
                )
            )
    for fid, kind in CASE_REFERENCE_FIELDS.items():
        for link in _objs(projection[fid], fid) if fid in projection else ():
            agency = _text(link.get("agency_code"))
            reference = _text(link.get("case_reference"))
            if agency is None or reference is None:
                continue
            identifiers.append(
                {
                    "use": "secondary",
                    "type": {"text": kind},
                    "system": t.case_reference_system(agency),
                    "value": reference,
                    "assigner": {"identifier": {"system": t.AGENCY_CODE_SYSTEM, "value": agency}, "display": agency},
                }
            )
    names: list[dict[str, Any]] = []
    if "identity.name" in projection:
        for name in _objs(projection["identity.name"], "identity.name"):
            use = _text(name.get("use"))
            human = _prune(
                {
                    "use": _mapped(use, t.NAME_USE, "identity.name") if use else None,
                    "family": _text(name.get("family")),
                    "given": _texts(name.get("given")) or None,
                }
            )
            if "family" in human or "given" in human:
                names.append(human)
    doc.add(
        "Patient",
        {
            "resourceType": "Patient",
            "identifier": identifiers or None,
            "name": names or None,
            "birthDate": _text(projection.get("identity.date_of_birth")),
        },
        *(fid for fid in IDENTITY_FIELDS if fid in projection),
    )


def _security(
    meta: DocumentMeta, projection: Mapping[str, Any], labels: Mapping[str, Sequence[str]]
) -> tuple[list[dict[str, Any]], str | None]:
    codings: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    confidentiality: str | None = None
    for obligation in meta.obligations:
        coding = t.obligation_coding(obligation)
        if coding["system"] == t.CONFIDENTIALITY_SYSTEM:
            code = coding["code"]
            if confidentiality is None or (
                t.CONFIDENTIALITY_ORDER.index(code) > t.CONFIDENTIALITY_ORDER.index(confidentiality)
            ):
                confidentiality = code
        key = (coding["system"], coding["code"])
        if key not in seen:
            seen.add(key)
            codings.append(coding)
    # Only the most restrictive confidentiality code stays (two would contradict each other), and it
    # comes first whatever order the policy listed the obligations in.
    codings = [
        *(c for c in codings if c["system"] == t.CONFIDENTIALITY_SYSTEM and c["code"] == confidentiality),
        *(c for c in codings if c["system"] != t.CONFIDENTIALITY_SYSTEM),
    ]
    sensitivity = sorted({code for fid in projection for code in labels[fid]})
    codings.extend(t.sensitivity_coding(code) for code in sensitivity)
    return codings, confidentiality


def _check_meta(meta: DocumentMeta) -> None:
    for name in (
        "bundle_id",
        "assessment_id",
        "publisher_name",
        "publisher_code",
        "recipient_agency_code",
        "recipient_agency_type",
        "purpose",
    ):
        value = getattr(meta, name)
        if not isinstance(value, str) or not value.strip() or value != value.strip():
            raise ValueError(f"DocumentMeta.{name} must be a non-empty string without surrounding spaces")
    if not _FHIR_ID.fullmatch(meta.bundle_id):
        raise ValueError("DocumentMeta.bundle_id must be a FHIR id ([A-Za-z0-9.-], at most 64 characters)")
    if not isinstance(meta.withheld_count, int) or meta.withheld_count < 0:
        raise ValueError("DocumentMeta.withheld_count must be a non-negative integer")
    if not isinstance(meta.assessment_version, int) or meta.assessment_version < 1:
        raise ValueError("DocumentMeta.assessment_version must be a positive integer")


def render_document(
    projection: Mapping[str, Any], meta: DocumentMeta, labels: Mapping[str, Sequence[str]]
) -> dict[str, Any]:
    """Render the released fields in ``projection`` as a FHIR R4 document Bundle (a plain dict).

    ``labels`` maps field id to the field's sensitivity labels (``PSY``, ``ETH``, ``SOC``); every
    projected field must have an entry (an empty one is fine), so a forgotten label cannot silently
    under-label a document. Unknown field ids, malformed values, unknown obligations or labels raise
    ``ValueError``: the caller must deny rather than send a document it could not build faithfully.
    """
    unknown = sorted(set(projection) - RENDERED_FIELDS)
    if unknown:
        raise ValueError(f"projection has fields the renderer does not know: {unknown}")
    unlabelled = sorted(fid for fid in projection if fid not in labels)
    if unlabelled:
        raise ValueError(f"no sensitivity labels given for released fields: {unlabelled}")
    _check_meta(meta)
    disclosure_uuid = str(uuid.UUID(meta.disclosure_id))
    timestamp = _instant(meta.timestamp)
    security, confidentiality = _security(meta, projection, labels)

    doc = _Doc(meta, labels)
    _patient(doc, projection)
    doc.add(
        "Organization/publisher",
        {
            "resourceType": "Organization",
            "identifier": [{"system": t.AGENCY_CODE_SYSTEM, "value": meta.publisher_code}],
            "name": meta.publisher_name,
        },
    )

    sections: list[dict[str, Any]] = []
    for section in SECTIONS:
        fragments: list[str] = []
        refs: list[dict[str, str]] = []
        for fid, render in section.fields:
            if fid not in projection or projection[fid] is None:
                continue
            parts, entries = render(doc, fid, projection[fid])
            fragments.extend(parts)
            refs.extend(entries)
        if not fragments and not refs:
            continue
        sections.append(
            _prune(
                {
                    "title": section.title,
                    "code": {"coding": [{"system": t.SECTION_SYSTEM, "code": section.code, "display": section.title}]},
                    "text": {"status": "generated", "div": f'<div xmlns="{XHTML_NS}">{"".join(fragments)}</div>'}
                    if fragments
                    else None,
                    "entry": refs or None,
                }
            )
        )

    composition = {
        "resourceType": "Composition",
        "id": doc.uuid("Composition"),
        "extension": [
            {"url": t.COMPOSITION_VERSION_EXTENSION, "valueString": str(meta.assessment_version)},
            {
                "url": t.DISCLOSURE_EXTENSION,
                "extension": [
                    {
                        "url": "recipient",
                        "valueIdentifier": {"system": t.AGENCY_CODE_SYSTEM, "value": meta.recipient_agency_code},
                    },
                    {
                        "url": "recipientType",
                        "valueCoding": {"system": t.AGENCY_TYPE_SYSTEM, "code": meta.recipient_agency_type},
                    },
                    {"url": "purposeOfUse", "valueCoding": {"system": t.PURPOSE_OF_USE_SYSTEM, "code": meta.purpose}},
                    {"url": "withheldCount", "valueUnsignedInt": meta.withheld_count},
                ],
            },
        ],
        "identifier": {"system": t.ASSESSMENT_ID_SYSTEM, "value": meta.assessment_id},
        "status": "final",
        "type": copy.deepcopy(t.DOCUMENT_TYPE),
        "subject": doc.patient_ref,
        "date": timestamp,
        "author": [doc.org_ref],
        "title": t.DOCUMENT_TITLE,
        "confidentiality": confidentiality,
        "custodian": doc.org_ref,
        "section": sections or None,
    }
    entries = [{"fullUrl": "urn:uuid:" + composition["id"], "resource": _prune(composition)}, *doc.entries]
    return _prune(
        {
            "resourceType": "Bundle",
            "id": meta.bundle_id,
            "meta": {"security": security} if security else None,
            "identifier": {"system": t.URI_SYSTEM, "value": "urn:uuid:" + disclosure_uuid},
            "type": "document",
            "timestamp": timestamp,
            "entry": entries,
        }
    )
