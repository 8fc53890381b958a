"""Validation of a published canonical assessment (``docs/canonical-assessment.md``).

:func:`validate_assessment` normalises a copy of the document (NHS number spaces removed; PNC ID, CRO
number and CRN in upper case), checks it against ``schemas/assessment.schema.json`` and then applies the
rules a JSON Schema cannot express: identifier check digits and letters (``identifiers``), the age
rule (10 or over on the date of assessment; date of birth not in the future) and a recorded date of death
that has happened, after the birth and the assessment. It reports *every* problem
found, not just the first, so that a sender can fix a document in one go.

Problems are :class:`gateway.issue.Issue` values whose ``expression`` locates the element, e.g.
``subject.nhs_number`` or ``case_links[0].agency_code`` (``$`` for the document itself). They never repeat
submitted values: a gateway log or an error response must not become a second copy of the person's
identifiers. Only the location and the rule are given.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final

from gateway.assessments.identifiers import (
    is_valid_crn,
    is_valid_cro_number,
    is_valid_nhs_number,
    is_valid_pnc_id,
    normalise_nhs_number,
    normalise_pnc_id,
)
from gateway.assessments.schema import (
    FIELD_FORMATS,
    ROOT_EXPRESSION,
    SCHEMA_FILE,
    age_on,
    expression,
    load_schema,
    parse_date,
    parse_date_time,
    schema_problems,
)
from gateway.assessments.snomed import SNOMED_SYSTEM, is_valid_sctid
from gateway.issue import Issue

# Dates and the schema's loader live in gateway.assessments.schema; they are named here too because every
# publisher of an assessment reads them beside validate_assessment.
__all__ = [
    "MINIMUM_AGE",
    "SCHEMA_FILE",
    "age_on",
    "load_schema",
    "parse_date",
    "parse_date_time",
    "validate_assessment",
]

MINIMUM_AGE: Final = 10  # the age of criminal responsibility in England and Wales


# -------------------------------------------------------------------------------------- normalising


MAX_DEPTH: Final = 32  # a valid assessment nests 5 deep; anything far deeper is refused before copying


class _TooDeep(Exception):
    pass


def _copy_json(value: Any, depth: int = 0) -> Any:
    """Deep copy of parsed JSON, refusing absurd nesting (``copy.deepcopy`` would hit the recursion limit)."""
    if depth > MAX_DEPTH:
        raise _TooDeep
    if isinstance(value, dict):
        return {key: _copy_json(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_json(item, depth + 1) for item in value]
    return value  # str, int, float, bool, None: immutable


def _normalise(document: Any) -> Any:
    """A deep copy with identifiers in their canonical form (the input is never modified)."""
    doc = _copy_json(document)
    subject = doc.get("subject") if isinstance(doc, dict) else None
    if isinstance(subject, dict):
        nhs = subject.get("nhs_number")
        if isinstance(nhs, str):
            subject["nhs_number"] = normalise_nhs_number(nhs)
        for key in ("pnc_id", "cro_number", "crn"):
            value = subject.get(key)
            # ASCII only: str.upper() maps a few non-ASCII letters onto ASCII ones
            # (U+017F, the long s, becomes "S").
            if isinstance(value, str) and value.isascii():
                subject[key] = normalise_pnc_id(value) if key == "pnc_id" else value.upper()
    return doc


# ------------------------------------------------------------------------------------ domain rules

_IDENTIFIER_RULES: Final = (
    ("nhs_number", is_valid_nhs_number, re.compile(r"[0-9]{10}"), "NHS number fails the modulus 11 check"),
    (
        "pnc_id",
        is_valid_pnc_id,
        re.compile(r"[0-9]{4}/[0-9]{1,7}[A-Z]"),
        "PNC ID check letter does not match its year and serial number",
    ),
    (
        "cro_number",
        is_valid_cro_number,
        re.compile(r"[0-9]{1,6}/[0-9]{2}[A-Z]"),
        "CRO number check letter does not match its serial number and year",
    ),
    ("crn", is_valid_crn, re.compile(r"[A-Z][0-9]{6}"), None),
)


def _identifier_problems(subject: Mapping[str, Any]) -> Iterator[Issue]:
    for key, is_valid, shape, check_message in _IDENTIFIER_RULES:
        value = subject.get(key)
        if not isinstance(value, str) or is_valid(value):
            continue
        where = expression(["subject", key])
        if shape.fullmatch(value) and check_message is not None:
            yield Issue("value", check_message, where)
        else:
            yield Issue("value", FIELD_FORMATS[key], where)


def _age_problems(document: Mapping[str, Any], today: date) -> Iterator[Issue]:
    subject = document.get("subject")
    context = document.get("context")
    if not isinstance(subject, Mapping):
        return
    try:
        dob = parse_date(subject["date_of_birth"])
    except (KeyError, TypeError, ValueError):
        return  # missing or malformed: the schema has said so
    where = expression(["subject", "date_of_birth"])
    if dob > today:
        yield Issue("value", "date of birth is in the future", where)
        return
    if not isinstance(context, Mapping):
        return
    try:
        assessed_at = parse_date_time(context["assessed_at"])
    except (KeyError, TypeError, ValueError):
        return
    # The calendar date as the sender wrote it, in the time zone offset they gave.
    if age_on(dob, assessed_at.date()) < MINIMUM_AGE:
        yield Issue(
            "business-rule",
            f"the person must be {MINIMUM_AGE} or older on the date of assessment (context.assessed_at): "
            f"{MINIMUM_AGE} is the age of criminal responsibility",
            where,
        )


def _death_problems(document: Mapping[str, Any], today: date) -> Iterator[Issue]:
    """A recorded date of death (it starts the 10-year retention rule): a date that has happened, on or
    after the date of birth and the date of assessment (the person was assessed alive)."""
    subject = document.get("subject")
    if not isinstance(subject, Mapping) or "date_of_death" not in subject:
        return
    try:
        died = parse_date(subject["date_of_death"])
    except (TypeError, ValueError):
        return  # malformed: the schema has said so
    where = expression(["subject", "date_of_death"])
    if died > today:
        yield Issue("value", "date of death is in the future", where)
        return
    try:
        if died < parse_date(subject["date_of_birth"]):
            yield Issue("invariant", "date of death is before the date of birth", where)
            return
    except (KeyError, TypeError, ValueError):
        pass  # the schema has said so
    context = document.get("context")
    try:
        assessed_on = parse_date_time(context["assessed_at"]).date() if isinstance(context, Mapping) else None
    except (KeyError, TypeError, ValueError):
        assessed_on = None
    if assessed_on is not None and died < assessed_on:
        yield Issue("invariant", "date of death is before the date of assessment (context.assessed_at)", where)


# ----------------------------------------------------------------------------------- children, codes

ADULT_AGE: Final = 18


def _content_problems(document: Mapping[str, Any]) -> Iterator[Issue]:
    """Rules about what an assessment may say, judged on the person's age at the assessment.

    Every under-18 gets an appropriate adult (PACE Code C 1.5, 3.15); community sentence treatment
    requirements are for adults and youth rehabilitation order requirements for children (Sentencing
    Act 2020 Sch 9 and Sch 6); consent by a person with parental responsibility is for a child who
    cannot consent. SNOMED CT codes must pass their Verhoeff check digit.
    """
    for index, diagnosis in enumerate(document.get("diagnoses") or []):
        if (
            isinstance(diagnosis, Mapping)
            and diagnosis.get("system") == SNOMED_SYSTEM
            and isinstance(diagnosis.get("code"), str)
            and not is_valid_sctid(diagnosis["code"])
        ):
            yield Issue(
                "code-invalid",
                "is not a SNOMED CT identifier: its check digit (Verhoeff) is wrong",
                expression(["diagnoses", index, "code"]),
            )
    age = _age_at_assessment(document)
    if age is None:
        return
    if age < ADULT_AGE:
        needs = document.get("needs") if isinstance(document.get("needs"), Mapping) else {}
        adult = needs.get("appropriate_adult") if isinstance(needs, Mapping) else None
        if not isinstance(adult, Mapping) or adult.get("required") is not True:
            yield Issue(
                "business-rule",
                "must be true for a person under 18: every child in custody gets an appropriate adult (PACE Code C)",
                "needs.appropriate_adult.required",
            )
        if document.get("treatment_requirements") is not None:
            yield Issue(
                "business-rule",
                "community sentence treatment requirements are for adults; for a person under 18 use "
                "youth_requirements (youth rehabilitation order)",
                "treatment_requirements",
            )
    else:
        if document.get("youth_requirements") is not None:
            yield Issue(
                "business-rule",
                "youth rehabilitation order requirements are for a person under 18; for an adult use "
                "treatment_requirements",
                "youth_requirements",
            )
        consent = document.get("consent")
        if isinstance(consent, Mapping) and consent.get("given_by") is not None:
            yield Issue(
                "business-rule",
                "a person with parental responsibility decides only for a child; an adult's consent is their own",
                "consent.given_by",
            )


def _age_at_assessment(document: Mapping[str, Any]) -> int | None:
    try:
        dob = parse_date(document["subject"]["date_of_birth"])
        assessed_at = parse_date_time(document["context"]["assessed_at"])
    except (KeyError, TypeError, ValueError):
        return None  # missing or malformed: the schema has said so
    if dob > assessed_at.date() or age_on(dob, assessed_at.date()) < MINIMUM_AGE:
        return None  # the age rule has said so
    return age_on(dob, assessed_at.date())


# --------------------------------------------------------------------------------------------- API


def validate_assessment(
    document: Any, schema: dict[str, Any], *, today: date | None = None
) -> tuple[dict[str, Any] | None, list[Issue]]:
    """Validate a published assessment.

    Returns ``(normalised_document, [])`` when it is acceptable, otherwise ``(None, problems)`` with every
    problem found: schema errors, identifier check failures and the age rule together. ``today`` (the
    current UTC date by default) is what "in the future" is measured against.
    """
    today = today or datetime.now(UTC).date()
    try:
        doc = _normalise(document)
    except _TooDeep:
        return None, [Issue("too-costly", f"is nested more than {MAX_DEPTH} levels deep", ROOT_EXPRESSION)]
    problems: list[Issue] = []
    problems.extend(schema_problems(doc, schema))

    if isinstance(doc, dict):
        flagged = {p.expression for p in problems}
        subject = doc.get("subject")
        if isinstance(subject, Mapping):
            problems.extend(p for p in _identifier_problems(subject) if p.expression not in flagged)
        problems.extend(p for p in _age_problems(doc, today) if p.expression not in flagged)
        problems.extend(p for p in _death_problems(doc, today) if p.expression not in flagged)
        problems.extend(p for p in _content_problems(doc) if p.expression not in flagged)

    unique = list(dict.fromkeys(problems))
    if unique:
        return None, unique
    return doc, []
