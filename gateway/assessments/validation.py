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

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from gateway.assessments.identifiers import (
    is_valid_crn,
    is_valid_cro_number,
    is_valid_nhs_number,
    is_valid_pnc_id,
    normalise_nhs_number,
    normalise_pnc_id,
)
from gateway.assessments.snomed import SNOMED_SYSTEM, is_valid_sctid
from gateway.issue import Issue

SCHEMA_FILE: Final = "assessment.schema.json"
MINIMUM_AGE: Final = 10  # the age of criminal responsibility in England and Wales

ROOT_EXPRESSION: Final = "$"


# --------------------------------------------------------------------------------------------- dates

_DATE_RE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def parse_date(value: str) -> date:
    """Parse an RFC 3339 ``full-date`` (``YYYY-MM-DD`` only; no week dates or compact forms)."""
    if not _DATE_RE.fullmatch(value):
        raise ValueError("not a YYYY-MM-DD date")
    return date.fromisoformat(value)


def parse_date_time(value: str) -> datetime:
    """Parse an RFC 3339 ``date-time``; the time zone (``Z`` or ``±hh:mm``) is required."""
    if not _DATE_TIME_RE.fullmatch(value):
        raise ValueError("not an RFC 3339 date-time")
    text = value.upper()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


_FORMAT_CHECKER: Final = FormatChecker(formats=())


@_FORMAT_CHECKER.checks("date", raises=ValueError)
def _is_date(instance: object) -> bool:
    return not isinstance(instance, str) or bool(parse_date(instance))


@_FORMAT_CHECKER.checks("date-time", raises=ValueError)
def _is_date_time(instance: object) -> bool:
    return not isinstance(instance, str) or bool(parse_date_time(instance))


def age_on(dob: date, on: date) -> int:
    """Age in whole years on ``on`` for someone born on ``dob`` (negative if ``on`` precedes ``dob``).

    Exact birthday arithmetic: a year is counted on the birthday itself. Someone born on 29 February
    becomes a year older on 1 March in a common year, as in English law.
    """
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


# ------------------------------------------------------------------------------------------- schema


def _pattern(validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]) -> Iterator[ValidationError]:
    """``pattern`` with ECMA-262 meaning of a final ``$``: the end of the string, not before a final newline.

    Python's ``re.search`` lets ``^X$`` match ``"X\\n"``; JSON Schema patterns are ECMA-262 regular
    expressions, where it does not.
    """
    if not validator.is_type(instance, "string"):
        return
    regex = pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern
    if re.search(regex, instance) is None:
        yield ValidationError("does not match the pattern")


# types-jsonschema leaves ``extend`` untyped; what it returns is a validator class like the one it extends.
_extend = cast(Callable[..., type[Draft202012Validator]], validators.extend)
_Validator = _extend(Draft202012Validator, {"pattern": _pattern})


def load_schema(schema_dir: Path) -> dict[str, Any]:
    """Read ``assessment.schema.json`` from ``schema_dir`` and check that it is a valid 2020-12 schema."""
    text = (schema_dir / SCHEMA_FILE).read_text(encoding="utf-8")
    _check_schema(text)
    return cast(dict[str, Any], json.loads(text))


@functools.lru_cache(maxsize=4)
def _check_schema(text: str) -> None:
    """Checking the schema against the metaschema takes a quarter of a second: once per text is enough."""
    Draft202012Validator.check_schema(json.loads(text))


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _expression(path: Iterable[str | int]) -> str:
    """``case_links[0].agency_code``; a submitted (unknown) key is cut to 64 characters."""
    out = ""
    for step in path:
        if isinstance(step, str) and len(step) > 64:
            step = step[:61] + "..."
        if isinstance(step, int):
            out += f"[{step}]"
        elif _IDENTIFIER.fullmatch(step):
            out += f".{step}" if out else step
        else:
            out += f"[{json.dumps(step)}]"
    return out or ROOT_EXPRESSION


_TYPE_NAMES: Final = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "boolean": "true or false",
    "null": "null",
    "integer": "a whole number",
    "number": "a number",
}

_PATTERN_MESSAGES: Final = {
    r"\S": "must not be blank",
    r"^\S(.*\S)?$": "must be a single line with no leading or trailing spaces",
    r"^[1-9][0-9]{5,17}$": "must be a SNOMED CT concept id (6 to 18 digits)",
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$": (
        "must be a code of up to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
    ),
}

_FIELD_FORMATS: Final = {
    "nhs_number": "NHS number must be 10 digits",
    "pnc_id": "PNC ID must have the form YYYY/NNNNNNNL (year, serial of up to 7 digits, check letter)",
    "cro_number": "CRO number must have the form NNNNNN/YYL (serial of up to 6 digits, year, check letter)",
    "crn": "CRN must be one letter followed by 6 digits",
    "local_reference": (
        "local reference must be up to 100 letters, digits, '.', '_', ':' or '-', starting with a letter or digit"
    ),
}

_FORMAT_MESSAGES: Final = {
    "date": "must be a date in the form YYYY-MM-DD",
    "date-time": "must be a date and time with a time zone, e.g. 2026-11-20T10:15:00Z",
}


def _describe(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str | int | float | bool) or value is None else "a value"


def _is_single_required(branch: Any) -> bool:
    return isinstance(branch, Mapping) and set(branch) == {"required"} and len(branch["required"]) == 1


def _problems_from_error(error: ValidationError) -> Iterator[Issue]:
    """Turn one jsonschema error into problems, without repeating the submitted value."""
    path = list(error.absolute_path)
    where = _expression(path)
    # The stubs type these as "value or Unset"; an error raised by a validator always has them set.
    keyword: Any = error.validator
    value: Any = error.validator_value
    instance: Any = error.instance

    if keyword == "required":
        present = instance if isinstance(instance, Mapping) else {}
        for name in value:
            if name not in present:
                yield Issue("required", "is required", _expression([*path, name]))
    elif keyword in ("additionalProperties", "unevaluatedProperties"):
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, Mapping) else set()
        extras = [k for k in instance if k not in known] if isinstance(instance, Mapping) else []
        for name in extras:
            yield Issue(
                "structure",
                "is not a recognised property (check the spelling against the canonical assessment)",
                _expression([*path, name]),
            )
        if not extras:
            yield Issue("structure", "contains an unrecognised property", where)
    elif keyword == "type":
        types = [value] if isinstance(value, str) else list(value)
        yield Issue("structure", "must be " + " or ".join(_TYPE_NAMES.get(t, t) for t in types), where)
    elif keyword == "enum":
        yield Issue("code-invalid", "must be one of: " + ", ".join(_describe(v) for v in value), where)
    elif keyword == "const":
        yield Issue("value", f"must be {_describe(value)}", where)
    elif keyword == "pattern":
        leaf = path[-1] if path and isinstance(path[-1], str) else None
        message = _PATTERN_MESSAGES.get(value) or _FIELD_FORMATS.get(leaf or "") or "is not in the expected format"
        yield Issue("value", message, where)
    elif keyword == "format":
        yield Issue("value", _FORMAT_MESSAGES.get(value, f"must be a valid {value}"), where)
    elif keyword == "minLength":
        message = "must not be empty" if value == 1 else f"must be at least {value} characters"
        yield Issue("value", message, where)
    elif keyword == "maxLength":
        yield Issue("too-long", f"must be at most {value} characters", where)
    elif keyword == "minItems":
        yield Issue("required", f"must have at least {value} item{'s' if value != 1 else ''}", where)
    elif keyword == "maxItems":
        yield Issue("too-long", f"must have at most {value} items", where)
    elif keyword == "uniqueItems":
        yield Issue("value", "must not contain the same item twice", where)
    elif keyword == "anyOf" and all(_is_single_required(branch) for branch in value):
        names = [branch["required"][0] for branch in value]
        yield Issue("invariant", "at least one of " + " or ".join(names) + " is required", where)
    else:
        yield Issue("invalid", f"does not satisfy the '{keyword}' rule of the assessment schema", where)


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
        expression = _expression(["subject", key])
        if shape.fullmatch(value) and check_message is not None:
            yield Issue("value", check_message, expression)
        else:
            yield Issue("value", _FIELD_FORMATS[key], expression)


def _age_problems(document: Mapping[str, Any], today: date) -> Iterator[Issue]:
    subject = document.get("subject")
    context = document.get("context")
    if not isinstance(subject, Mapping):
        return
    try:
        dob = parse_date(subject["date_of_birth"])
    except (KeyError, TypeError, ValueError):
        return  # missing or malformed: the schema has said so
    where = _expression(["subject", "date_of_birth"])
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
    where = _expression(["subject", "date_of_death"])
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
                _expression(["diagnoses", index, "code"]),
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
    validator = _Validator(schema, format_checker=_FORMAT_CHECKER)
    for error in validator.iter_errors(doc):
        problems.extend(_problems_from_error(error))

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
