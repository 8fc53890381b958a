"""Validating a lawful override before it is recorded (pure: the caller supplies the clock and agencies).

Every problem is reported at once, each with its location; messages never repeat submitted values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from gateway.issue import Issue

#: The lawful bases for sharing without consent (DOMAIN.md, "Law and governance"); the policy data's
#: ``override_bases`` must list the same (a test checks). ``emergency`` is the ICO data sharing code's
#: emergency sharing (risk to life, vital interests): the policy gives it only identity, communication
#: needs, risk and safeguarding, and it runs for hours, not weeks.
BASES: Final = ("safeguarding", "crime-prevention-detection", "serious-harm", "emergency")

#: The longest an override may run: sharing without consent is an exceptional, reviewed decision.
MAX_DURATION: Final = timedelta(days=30)

#: Shorter limits by basis: an emergency is time-limited (ICO data sharing code), 72 hours at most.
MAX_DURATION_BY_BASIS: Final = {"emergency": timedelta(hours=72)}


def max_duration(basis: str) -> timedelta:
    """The longest an override on ``basis`` may run."""
    return MAX_DURATION_BY_BASIS.get(basis, MAX_DURATION)


MAX_REASON: Final = 2000
MAX_RECORDED_BY: Final = 200
MAX_RECIPIENTS: Final = 20

_FIELDS: Final = ("basis", "reason", "recipients", "expires_at", "recorded_by")


@dataclass(frozen=True, slots=True)
class OverrideRequest:
    basis: str
    reason: str
    recipients: tuple[str, ...]
    expires_at: datetime
    recorded_by: str


def validate_override(
    body: Any, *, now: datetime, agency_types: Mapping[str, str]
) -> tuple[OverrideRequest | None, list[Issue]]:
    """The request, or every problem with it (each an ``invalid`` issue naming its field).

    ``agency_types`` maps each registered agency code to its type: recipients must be registered
    partner agencies (never an L&D service).
    """
    if not isinstance(body, Mapping):
        return None, [Issue("invalid", "the body must be a JSON object", "$")]
    problems: list[Issue] = []
    problems += [Issue("invalid", "is not a field of an override", key) for key in sorted(set(body) - set(_FIELDS))]
    problems += [Issue("required", "is required", key) for key in _FIELDS if body.get(key) is None]

    basis = body.get("basis")
    if basis is not None and basis not in BASES:
        problems.append(Issue("invalid", f"must be one of {', '.join(BASES)}", "basis"))

    reason = body.get("reason")
    if reason is not None and not _text(reason, MAX_REASON):
        problems.append(Issue("invalid", f"must be text of 1 to {MAX_REASON} characters", "reason"))

    recorded_by = body.get("recorded_by")
    if recorded_by is not None and not _text(recorded_by, MAX_RECORDED_BY):
        problems.append(
            Issue("invalid", f"must name the practitioner in 1 to {MAX_RECORDED_BY} characters", "recorded_by")
        )

    recipients = body.get("recipients")
    if recipients is not None:
        if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_RECIPIENTS:
            problems.append(Issue("invalid", f"must be a list of 1 to {MAX_RECIPIENTS} agency codes", "recipients"))
        else:
            for index, code in enumerate(recipients):
                where = f"recipients[{index}]"
                if not isinstance(code, str) or code not in agency_types:
                    problems.append(Issue("invalid", "is not a registered agency code", where))
                elif agency_types[code] == "ld-service":
                    problems.append(Issue("invalid", "an L&D service is not a recipient of disclosures", where))
                elif recipients.index(code) != index:
                    problems.append(Issue("invalid", "is listed more than once", where))

    expires_at = _instant(body.get("expires_at"))
    if body.get("expires_at") is not None:
        if expires_at is None:
            problems.append(Issue("invalid", "must be a date-time with a time zone (RFC 3339)", "expires_at"))
        elif expires_at <= now:
            problems.append(Issue("invalid", "must be in the future", "expires_at"))
        elif basis in MAX_DURATION_BY_BASIS and expires_at - now > max_duration(basis):
            hours = int(max_duration(basis).total_seconds() // 3600)
            problems.append(Issue("invalid", f"an emergency must expire at most {hours} hours ahead", "expires_at"))
        elif expires_at - now > MAX_DURATION:
            problems.append(Issue("invalid", f"must be at most {MAX_DURATION.days} days ahead", "expires_at"))

    if problems or expires_at is None:
        return None, problems
    # No problem reported: every field is present and of its type (each was checked above).
    assert isinstance(basis, str) and isinstance(reason, str) and isinstance(recorded_by, str)
    assert isinstance(recipients, list)
    return OverrideRequest(basis, reason.strip(), tuple(recipients), expires_at, recorded_by.strip()), []


def _text(value: Any, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value.strip()) <= limit


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value.upper():
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None
    # In UTC from here on: SQLite's DateTime keeps the wall time and drops the offset, so 12:00+01:00
    # stored as given would be read back as 12:00 UTC and the override would run an hour too long.
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None
