"""The policy input: the facts a disclosure decision rests on, and nothing more.

Pure: no I/O, no clock (the caller says which day it is, and at which instant overrides are judged).
The input never carries personal data: the subject appears only as an age and an age group, and
free-text consent notes stay behind (a best-interests decision appears only as "one is recorded"), so a
decision and its input can be logged, cached and replayed safely.

Every time comparison is made here, never in the policy: the input lists only the lawful overrides in
force at ``now``. So two decisions with equal inputs are equal, which is what the decision cache keys on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

ADULT_AGE = 18


def age_on(date_of_birth: date, on: date) -> int:
    """Completed years on ``on`` (a birthday counts on the day itself; 29 February falls to 1 March)."""
    if on < date_of_birth:
        raise ValueError("the decision date is before the date of birth")
    before_birthday = (on.month, on.day) < (date_of_birth.month, date_of_birth.day)
    return on.year - date_of_birth.year - int(before_birthday)


@dataclass(frozen=True, slots=True)
class OverrideFacts:
    """What the policy needs of one recorded lawful override (gateway/overrides)."""

    id: str
    basis: str
    recipients: tuple[str, ...]
    expires_at: datetime
    recorded_at: datetime
    # Not policy input (overrides_in_force leaves them out, so they never split the decision cache):
    # they travel with the facts to the log entry of each disclosure that relies on the override.
    recorded_by_hmac: str | None = None
    reason_hmac: str | None = None


def overrides_in_force(overrides: Sequence[OverrideFacts], now: datetime) -> list[dict[str, Any]]:
    """The overrides recorded by ``now`` and not yet expired, as policy input, in id order."""
    return [
        {"id": o.id, "basis": o.basis, "recipients": sorted(set(o.recipients))}
        for o in sorted(overrides, key=lambda o: o.id)
        if o.recorded_at <= now < o.expires_at
    ]


def build_input(
    *,
    agency_type: str,
    agency_code: str,
    purpose: str,
    date_of_birth: date,
    on: date,
    consent: Mapping[str, Any],
    overrides: Sequence[OverrideFacts] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The input document for ``data.gateway.disclosure.decision`` (shape in policies/disclosure.rego).

    ``on`` is the day the subject's age is judged (the day of the disclosure: a child assessed at 17 is
    an adult once 18); ``now`` the instant overrides are judged (required when there are any).
    """
    age = age_on(date_of_birth, on)
    if overrides and now is None:
        raise ValueError("overrides are judged at an instant: pass now")
    return {
        "recipient": {"agency_type": agency_type, "agency_code": agency_code},
        "purpose": purpose,
        "subject": {"age": age, "age_group": "child" if age < ADULT_AGE else "adult"},
        "consent": {
            "status": consent.get("status"),
            "limited_to_agencies": _strings(consent.get("limited_to_agencies")),
            "limited_to_purposes": _strings(consent.get("limited_to_purposes")),
            "gillick_competent": _tristate(consent.get("gillick_competent")),
            "best_interests_recorded": _recorded(consent.get("best_interests_decision")),
            # Who decided: a person with parental responsibility, for a child who cannot (their name and
            # relationship stay behind; the policy needs only the fact).
            "parental_responsibility": consent.get("given_by") is not None,
        },
        "overrides": overrides_in_force(overrides, now) if now is not None else [],
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


def _recorded(text: Any) -> bool:
    return isinstance(text, str) and bool(text.strip())
