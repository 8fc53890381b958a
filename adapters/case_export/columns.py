"""The column mapping: one export row to one canonical assessment (pure).

Every column is listed in :data:`COLUMNS` with where it goes; docs/import.md is the reader's version.
Cells are text in CSV; in JSON lines they may also be true/false and lists. Conventions for text:

* a blank cell is absent;
* yes/no columns take ``yes``/``no`` (also ``true``/``false``, ``y``/``n``, ``1``/``0``);
* list columns separate items with ``;`` (in JSON lines, a list of strings is also accepted);
* structured lists separate an item's parts with ``|``: ``case_links`` ``AGENCY=REFERENCE``, ``aliases``
  ``FAMILY|GIVEN GIVEN``, ``diagnoses`` ``SYSTEM|CODE|DISPLAY|STATUS`` (``snomed`` stands for
  ``http://snomed.info/sct``), ``referrals`` ``SERVICE|NEED|STATUS|DATE``.

The result is not judged here (that is the gateway's ordinary validation); only what cannot be read as
its column's kind is a problem, named by column. Problem texts never repeat the cell's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SNOMED = "http://snomed.info/sct"

Problem = tuple[str, str]  # (column, message)

#: column -> what it fills in the canonical assessment (the docs table is generated from this).
COLUMNS: dict[str, str] = {
    "record_id": "local_reference",
    "nhs_number": "subject.nhs_number",
    "pnc_id": "subject.pnc_id",
    "cro_number": "subject.cro_number",
    "crn": "subject.crn",
    "family_name": "subject.names[0].family (use official)",
    "given_names": "subject.names[0].given (split on spaces)",
    "preferred_given_names": "a usual name: subject.names[].given with the official family name",
    "aliases": "subject.names[] with use alias: FAMILY|GIVEN GIVEN; ...",
    "date_of_birth": "subject.date_of_birth",
    "case_links": "case_links[]: AGENCY=REFERENCE; ...",
    "assessed_at": "context.assessed_at",
    "setting": "context.setting",
    "service_name": "context.service_name",
    "consent": "consent.status",
    "consent_recorded_at": "consent.recorded_at",
    "consent_agencies": "consent.limited_to_agencies (list)",
    "consent_purposes": "consent.limited_to_purposes (list)",
    "gillick_competent": "consent.gillick_competent (yes/no)",
    "best_interests_decision": "consent.best_interests_decision",
    "vulnerability_summary": "vulnerability_summary",
    "appropriate_adult_required": "needs.appropriate_adult.required (yes/no)",
    "appropriate_adult_reason": "needs.appropriate_adult.reason",
    "communication_needs": "needs.communication.needs (list)",
    "communication_adjustments": "needs.communication.adjustments",
    "intermediary_recommended": "needs.intermediary.recommended (yes/no)",
    "intermediary_reason": "needs.intermediary.reason",
    "fit_to_interview": "fitness.interview.status",
    "fit_to_interview_notes": "fitness.interview.notes",
    "fitness_to_plead_concerns": "fitness.plead.concerns (yes/no)",
    "fitness_to_plead_notes": "fitness.plead.notes",
    "diversion_suitable": "diversion.suitable (yes/no)",
    "diversion_options": "diversion.options (list)",
    "diversion_notes": "diversion.notes",
    "mhtr_suitable": "treatment_requirements.mhtr.suitable (yes/no)",
    "mhtr_consents": "treatment_requirements.mhtr.consents (yes/no)",
    "drr_suitable": "treatment_requirements.drr.suitable (yes/no)",
    "drr_consents": "treatment_requirements.drr.consents (yes/no)",
    "atr_suitable": "treatment_requirements.atr.suitable (yes/no)",
    "atr_consents": "treatment_requirements.atr.consents (yes/no)",
    "treatment_notes": "treatment_requirements.notes",
    "diagnoses": "diagnoses[]: SYSTEM|CODE|DISPLAY|STATUS; ...",
    "clinical_detail": "clinical_detail",
    "risk_to_self": "risk.assessment.to_self",
    "risk_to_others": "risk.assessment.to_others",
    "risk_summary": "risk.assessment.summary",
    "safeguarding_concerns": "risk.safeguarding.concerns (yes/no)",
    "safeguarding_summary": "risk.safeguarding.summary",
    "referrals": "referrals[]: SERVICE|NEED|STATUS|DATE; ...",
    "engagement": "engagement",
    "third_party_information": "third_party_information",
}

_TRUE = {"yes", "y", "true", "1"}
_FALSE = {"no", "n", "false", "0"}


class _Row:
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.problems: list[Problem] = []

    def text(self, column: str) -> str | None:
        value = self.row.get(column)
        if value is None:
            return None
        if not isinstance(value, str):
            self.problems.append((column, "must be text"))
            return None
        value = value.strip()
        return value or None

    def flag(self, column: str) -> bool | None:
        value = self.row.get(column)
        if value is None or isinstance(value, bool):
            return value
        text = self.text(column)
        if text is None:
            return None
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        self.problems.append((column, "must be yes or no"))
        return None

    def items(self, column: str) -> list[str]:
        value = self.row.get(column)
        if isinstance(value, list):
            if not all(isinstance(v, str) for v in value):
                self.problems.append((column, "must be a list of text"))
                return []
            return [v.strip() for v in value if v.strip()]
        text = self.text(column)
        return [part.strip() for part in text.split(";") if part.strip()] if text else []

    def parts(self, column: str, count: int, shape: str) -> list[list[str]]:
        out = []
        for item in self.items(column):
            pieces = [p.strip() for p in item.split("|")]
            if len(pieces) != count:
                self.problems.append((column, f"each item must be {shape}"))
                continue
            out.append(pieces)
        return out


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def row_to_assessment(row: Mapping[str, Any]) -> tuple[dict[str, Any] | None, list[Problem]]:
    """The canonical assessment for one export row, or the row's problems (by column)."""
    r = _Row(row)
    problems: list[Problem] = [(k, "not a column of the export format") for k in row if k not in COLUMNS]
    if "__extra__" in row:
        return None, [("row", str(row["__extra__"]))]
    doc: dict[str, Any] = {}
    _put(doc, "local_reference", r.text("record_id"))

    subject: dict[str, Any] = {}
    for key in ("nhs_number", "pnc_id", "cro_number", "crn", "date_of_birth"):
        _put(subject, key, r.text(key))
    names: list[dict[str, Any]] = []
    official: dict[str, Any] = {"use": "official"}
    _put(official, "family", r.text("family_name"))
    given = (r.text("given_names") or "").split()
    if given:
        official["given"] = given
    if len(official) > 1:
        names.append(official)
    preferred = (r.text("preferred_given_names") or "").split()
    if preferred:
        usual: dict[str, Any] = {"use": "usual", "given": preferred}
        _put(usual, "family", official.get("family"))
        names.append(usual)
    for family, given_text in r.parts("aliases", 2, "FAMILY|GIVEN"):
        alias: dict[str, Any] = {"use": "alias"}
        _put(alias, "family", family or None)
        if given_text.split():
            alias["given"] = given_text.split()
        names.append(alias)
    subject["names"] = names
    doc["subject"] = subject

    links = []
    for item in r.items("case_links"):
        agency, sep, reference = item.partition("=")
        if not sep or not agency.strip() or not reference.strip():
            r.problems.append(("case_links", "each item must be AGENCY=REFERENCE"))
            continue
        links.append({"agency_code": agency.strip(), "case_reference": reference.strip()})
    doc["case_links"] = links

    context: dict[str, Any] = {}
    _put(context, "assessed_at", r.text("assessed_at"))
    _put(context, "setting", r.text("setting"))
    _put(context, "service_name", r.text("service_name"))
    doc["context"] = context

    consent: dict[str, Any] = {
        "limited_to_agencies": r.items("consent_agencies"),
        "limited_to_purposes": r.items("consent_purposes"),
        "gillick_competent": r.flag("gillick_competent"),
        "best_interests_decision": r.text("best_interests_decision"),
    }
    _put(consent, "status", r.text("consent"))
    _put(consent, "recorded_at", r.text("consent_recorded_at"))
    doc["consent"] = consent

    _put(doc, "vulnerability_summary", r.text("vulnerability_summary"))

    needs: dict[str, Any] = {}
    if (required := r.flag("appropriate_adult_required")) is not None or r.text("appropriate_adult_reason"):
        needs["appropriate_adult"] = {"required": required, "reason": r.text("appropriate_adult_reason")}
    comm_needs, adjustments = r.items("communication_needs"), r.text("communication_adjustments")
    if comm_needs or adjustments:
        needs["communication"] = {"needs": comm_needs, "adjustments": adjustments}
    if (recommended := r.flag("intermediary_recommended")) is not None or r.text("intermediary_reason"):
        needs["intermediary"] = {"recommended": recommended, "reason": r.text("intermediary_reason")}
    _put(doc, "needs", needs or None)

    fitness: dict[str, Any] = {}
    if (status := r.text("fit_to_interview")) is not None or r.text("fit_to_interview_notes"):
        fitness["interview"] = {"status": status, "notes": r.text("fit_to_interview_notes")}
    if (concerns := r.flag("fitness_to_plead_concerns")) is not None or r.text("fitness_to_plead_notes"):
        fitness["plead"] = {"concerns": concerns, "notes": r.text("fitness_to_plead_notes")}
    _put(doc, "fitness", fitness or None)

    suitable, options, notes = r.flag("diversion_suitable"), r.items("diversion_options"), r.text("diversion_notes")
    if suitable is not None or options or notes:
        diversion: dict[str, Any] = {"suitable": suitable, "notes": notes}
        if options:
            diversion["options"] = options
        doc["diversion"] = diversion

    treatment: dict[str, Any] = {}
    for req in ("mhtr", "drr", "atr"):
        req_suitable, req_consents = r.flag(f"{req}_suitable"), r.flag(f"{req}_consents")
        if req_suitable is not None or req_consents is not None:
            treatment[req] = {"suitable": req_suitable, "consents": req_consents}
    _put(treatment, "notes", r.text("treatment_notes"))
    _put(doc, "treatment_requirements", treatment or None)

    diagnoses = []
    for system, code, display, status in r.parts("diagnoses", 4, "SYSTEM|CODE|DISPLAY|STATUS"):
        diagnoses.append(
            {
                "system": SNOMED if system.lower() == "snomed" else system,
                "code": code,
                "display": display,
                "status": status,
            }
        )
    if diagnoses:
        doc["diagnoses"] = diagnoses
    _put(doc, "clinical_detail", r.text("clinical_detail"))

    risk: dict[str, Any] = {}
    to_self, to_others, summary = r.text("risk_to_self"), r.text("risk_to_others"), r.text("risk_summary")
    if to_self or to_others or summary:
        risk["assessment"] = {"to_self": to_self, "to_others": to_others, "summary": summary}
    if (sg := r.flag("safeguarding_concerns")) is not None or r.text("safeguarding_summary"):
        risk["safeguarding"] = {"concerns": sg, "summary": r.text("safeguarding_summary")}
    _put(doc, "risk", risk or None)

    referrals = [
        {"service": service, "need": need, "status": status, "date": date}
        for service, need, status, date in r.parts("referrals", 4, "SERVICE|NEED|STATUS|DATE")
    ]
    if referrals:
        doc["referrals"] = referrals
    _put(doc, "engagement", r.text("engagement"))
    _put(doc, "third_party_information", r.text("third_party_information"))

    problems += r.problems
    if problems:
        return None, list(dict.fromkeys(problems))
    return _drop_nulls(doc), []


def _drop_nulls(value: Any) -> Any:
    """Absent rather than null for optional keys the schema does not allow as null (required ones stay,
    so the validation names them); the consent object keeps its keys as the canonical form has them."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None or k in _NULLABLE}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


# Keys the canonical schema allows to be null; any other null key is dropped (and, when required, named
# by the validation as missing).
_NULLABLE = {"reason", "adjustments", "notes", "summary", "consents", "gillick_competent", "best_interests_decision"}


def column_for(expression: str) -> str:
    """The export column behind a canonical problem location (``subject.nhs_number`` -> ``nhs_number``);
    the expression itself when no single column fills it."""
    path = expression.split("[", 1)[0]
    best = None
    for column, target in COLUMNS.items():
        head = target.split(" ", 1)[0].split("[", 1)[0]
        if head == path or (best is None and path.startswith(head + ".") and head != "subject"):
            best = column
            if head == path:
                break
    if path == "subject.names":
        return "family_name"
    return best or expression
