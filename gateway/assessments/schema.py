"""The canonical assessment's JSON Schema (``schemas/assessment.schema.json``) and its dates: loading and
checking the schema, and turning each jsonschema error into :class:`gateway.issue.Issue` values that locate
the element and name the rule, never the submitted value. Used by :mod:`gateway.assessments.validation`,
which adds the rules a schema cannot express."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, cast

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

from gateway.issue import Issue

SCHEMA_FILE: Final = "assessment.schema.json"

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
    """Check the schema against the 2020-12 metaschema, once per text per process.

    Kept at every start: GATEWAY_SCHEMA_DIR may name an operator's own schema, and a broken one must stop
    the gateway there, not surface as refused submissions. It costs about 0.03 s of CPU (a sixth of
    ``create_app``); skipping it for the shipped schema alone would need that schema's digest pinned in
    code and kept in step with every edit of it.
    """
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

FIELD_FORMATS: Final = {
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
        message = _PATTERN_MESSAGES.get(value) or FIELD_FORMATS.get(leaf or "") or "is not in the expected format"
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


def schema_problems(document: Any, schema: dict[str, Any]) -> list[Issue]:
    """Every problem the schema finds in ``document``, each located and named by its rule."""
    validator = _Validator(schema, format_checker=_FORMAT_CHECKER)
    return [issue for error in validator.iter_errors(document) for issue in _problems_from_error(error)]


def expression(path: Iterable[str | int]) -> str:
    """The element at ``path`` as a problem's location (``subject.nhs_number``, ``case_links[0]``)."""
    return _expression(path)
