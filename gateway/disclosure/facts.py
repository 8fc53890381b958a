"""What a pull reads off the request and the stored assessment for its decision and its log entry: the
search key, whether the person is a child on the day, the consent as the log keeps it, and the withheld
fields as log entries. Pure functions: no I/O, no session."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.assessments import store
from gateway.assessments.identifiers import (
    NHS_NUMBER_SYSTEM,
    PNC_ID_SYSTEM,
    is_valid_nhs_number,
    is_valid_pnc_id,
    normalise_pnc_id,
)
from gateway.audit.entry import WithheldField
from gateway.policy.decision import Decision
from gateway.policy.input import ADULT_AGE, age_on

# Search systems we accept, mapped to the lookup table's system names.
SEARCH_SYSTEMS = {NHS_NUMBER_SYSTEM: store.NHS_NUMBER, PNC_ID_SYSTEM: store.PNC_ID}

ENGLAND = ZoneInfo("Europe/London")


def is_minor(content: Mapping[str, Any], now: datetime) -> bool:
    born = date.fromisoformat(content["subject"]["date_of_birth"])
    return age_on(born, now.astimezone(ENGLAND).date()) < ADULT_AGE


def search_key(system: str, value: str) -> tuple[str | None, str, str | None]:
    """The lookup system and normalised value for a search, or the problem with it."""
    lookup_system = SEARCH_SYSTEMS.get(system)
    if lookup_system is None:
        return None, value, "patient.identifier system must be the NHS number or PNC ID system"
    if lookup_system == store.NHS_NUMBER:
        value = value.replace(" ", "")
        if not is_valid_nhs_number(value):
            return None, value, "patient.identifier is not a valid NHS number"
    else:
        # Stored PNC IDs are keyed in one form (upper case, serial padded to 7); a search must find them
        # however it is typed.
        value = normalise_pnc_id(value.strip())
        if not is_valid_pnc_id(value):
            return None, value, "patient.identifier is not a valid PNC ID"
    return lookup_system, value, None


def consent_status(stored: store.StoredAssessment | None) -> str | None:
    if stored is None:
        return None
    status = stored.content.get("consent", {}).get("status")
    return status if isinstance(status, str) else None


def consent_scope(stored: store.StoredAssessment | None) -> dict[str, Any] | None:
    """What the log keeps of the consent besides its status: when it was recorded (the date only) and its
    limits. Everything else about consent (notes, who recorded it) stays in the encrypted assessment."""
    if stored is None:
        return None
    consent = stored.content.get("consent")
    if not isinstance(consent, dict):
        return None
    recorded = consent.get("recorded_at")

    def strings(value: object) -> list[str]:
        return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []

    gillick = consent.get("gillick_competent")
    return {
        "recorded_on": recorded[:10] if isinstance(recorded, str) else None,
        "limited_to_agencies": strings(consent.get("limited_to_agencies")),
        "limited_to_purposes": strings(consent.get("limited_to_purposes")),
        "gillick_competent": gillick if isinstance(gillick, bool) else None,
        "best_interests_recorded": bool(consent.get("best_interests_decision")),
    }


def withheld_fields(decision: Decision | None) -> Sequence[WithheldField]:
    if decision is None:
        return ()
    return tuple(WithheldField(w.field, w.rule, w.reason) for w in decision.withheld)
