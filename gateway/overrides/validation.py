"""Validating a lawful override before it is recorded (pure: the caller supplies the clock and agencies).

Every problem is reported at once, each with its location; messages never repeat submitted values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

#: The lawful bases for sharing without consent (DOMAIN.md, "Law and governance"); the policy data's
#: ``override_bases`` must list the same (a test checks).
BASES: Final = ("safeguarding", "crime-prevention-detection", "serious-harm")

#: The longest an override may run: sharing without consent is an exceptional, reviewed decision.
MAX_DURATION: Final = timedelta(days=30)

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
) -> tuple[OverrideRequest | None, list[tuple[str, str]]]:
    """The request, or every ``(expression, message)`` problem with it.

    ``agency_types`` maps each registered agency code to its type: recipients must be registered
    partner agencies (never an L&D service).
    """
    if not isinstance(body, Mapping):
        return None, [("$", "the body must be a JSON object")]
    problems: list[tuple[str, str]] = []
    problems += [(key, "is not a field of an override") for key in sorted(set(body) - set(_FIELDS))]
    problems += [(key, "is required") for key in _FIELDS if body.get(key) is None]

    basis = body.get("basis")
    if basis is not None and basis not in BASES:
        problems.append(("basis", f"must be one of {', '.join(BASES)}"))

    reason = body.get("reason")
    if reason is not None and not _text(reason, MAX_REASON):
        problems.append(("reason", f"must be text of 1 to {MAX_REASON} characters"))

    recorded_by = body.get("recorded_by")
    if recorded_by is not None and not _text(recorded_by, MAX_RECORDED_BY):
        problems.append(("recorded_by", f"must name the practitioner in 1 to {MAX_RECORDED_BY} characters"))

    recipients = body.get("recipients")
    if recipients is not None:
        if not isinstance(recipients, list) or not recipients or len(recipients) > MAX_RECIPIENTS:
            problems.append(("recipients", f"must be a list of 1 to {MAX_RECIPIENTS} agency codes"))
        else:
            for index, code in enumerate(recipients):
                where = f"recipients[{index}]"
                if not isinstance(code, str) or code not in agency_types:
                    problems.append((where, "is not a registered agency code"))
                elif agency_types[code] == "ld-service":
                    problems.append((where, "an L&D service is not a recipient of disclosures"))
                elif recipients.index(code) != index:
                    problems.append((where, "is listed more than once"))

    expires_at = _instant(body.get("expires_at"))
    if body.get("expires_at") is not None:
        if expires_at is None:
            problems.append(("expires_at", "must be a date-time with a time zone (RFC 3339)"))
        elif expires_at <= now:
            problems.append(("expires_at", "must be in the future"))
        elif expires_at - now > MAX_DURATION:
            problems.append(("expires_at", f"must be at most {MAX_DURATION.days} days ahead"))

    if problems or expires_at is None:
        return None, problems
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
    return parsed if parsed.tzinfo is not None else None
