"""The policy input: the facts a disclosure decision rests on, and nothing more.

Pure: no I/O, no clock (the caller says which day it is). The input never carries personal data: the
subject appears only as an age and an age group, and free-text consent notes (such as a best-interests
decision) stay behind, so a decision and its input can be logged and replayed safely.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

ADULT_AGE = 18


def age_on(date_of_birth: date, on: date) -> int:
    """Completed years on ``on`` (a birthday counts on the day itself; 29 February falls to 1 March)."""
    if on < date_of_birth:
        raise ValueError("the decision date is before the date of birth")
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


def build_input(
    *,
    agency_type: str,
    agency_code: str,
    purpose: str,
    date_of_birth: date,
    on: date,
    consent: Mapping[str, Any],
) -> dict[str, Any]:
    """The input document for ``data.gateway.disclosure.decision`` (shape in policies/disclosure.rego)."""
    age = age_on(date_of_birth, on)
    return {
        "recipient": {"agency_type": agency_type, "agency_code": agency_code},
        "purpose": purpose,
        "subject": {"age": age, "age_group": "child" if age < ADULT_AGE else "adult"},
        "consent": {
            "status": consent.get("status"),
            "limited_to_agencies": _strings(consent.get("limited_to_agencies")),
            "limited_to_purposes": _strings(consent.get("limited_to_purposes")),
            "gillick_competent": _tristate(consent.get("gillick_competent")),
        },
    }


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError("a consent limit must be a list of strings")
    if not all(isinstance(item, str) for item in value):
        raise ValueError("a consent limit must be a list of strings")
    return list(value)


def _tristate(value: Any) -> bool | None:
    # Anything but a real boolean is "not assessed": the policy then treats a child's consent as not
    # established, which is the cautious reading.
    return value if isinstance(value, bool) else None
