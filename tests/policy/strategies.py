"""Hypothesis strategies for policy inputs: well-formed ones, and the odd values a bug would send.

Each strategy is made once, here, and drawn from many times: making ``st.sampled_from(...)`` inside a
composite on every draw cost hypothesis as much as the decision it fed (validating it anew each time).
The draws are the same either way.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

AGENCY_TYPES = ["police", "cps", "court", "probation", "yot", "health", "ld-service", "newspaper"]
PURPOSES = ["charging", "case-management", "sentencing", "health-referral", "ld-service", "curiosity"]
STATUSES = ["given", "declined", "withdrawn", "not-possible", None, "maybe"]
CODES = ["POL-NE", "CPS-NE", "MC-NE", "PROB-NE", "YOT-NE", "MHT-NE", "OTHER"]
BASES = ["safeguarding", "crime-prevention-detection", "serious-harm", "emergency", "curiosity"]

_OVERRIDE_IDS = st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=3)
_BASIS = st.sampled_from(BASES)
_RECIPIENTS = st.sets(st.sampled_from(CODES), max_size=3)
LIMITED_TO_AGENCIES = st.sets(st.sampled_from(CODES), max_size=2)
LIMITED_TO_PURPOSES = st.sets(st.sampled_from(PURPOSES[:4]), max_size=2)
GILLICK = st.sampled_from([True, False, None])
_STATUS = st.sampled_from(STATUSES)
_AGE = st.integers(min_value=10, max_value=90)
_AGENCY_TYPE = st.sampled_from(AGENCY_TYPES)
_CODE = st.sampled_from(CODES)
_PURPOSE = st.sampled_from(PURPOSES)


@st.composite
def overrides(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(_OVERRIDE_IDS)
    return [{"id": oid, "basis": draw(_BASIS), "recipients": sorted(draw(_RECIPIENTS))} for oid in ids]


@st.composite
def consents(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "status": draw(_STATUS),
        "limited_to_agencies": sorted(draw(LIMITED_TO_AGENCIES)),
        "limited_to_purposes": sorted(draw(LIMITED_TO_PURPOSES)),
        "gillick_competent": draw(GILLICK),
        "best_interests_recorded": draw(st.booleans()),
    }


_OVERRIDES = overrides()
_CONSENTS = consents()


@st.composite
def policy_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """Inputs as build_input makes them (plus unknown types, purposes and statuses)."""
    age = draw(_AGE)
    return {
        "recipient": {"agency_type": draw(_AGENCY_TYPE), "agency_code": draw(_CODE)},
        "purpose": draw(_PURPOSE),
        "subject": {"age": age, "age_group": "child" if age < 18 else "adult"},
        "consent": draw(_CONSENTS),
        "overrides": draw(_OVERRIDES),
    }
