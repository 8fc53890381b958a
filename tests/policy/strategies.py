"""Hypothesis strategies for policy inputs: well-formed ones, and the odd values a bug would send."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

AGENCY_TYPES = ["police", "cps", "court", "probation", "yot", "health", "ld-service", "newspaper"]
PURPOSES = ["charging", "case-management", "sentencing", "health-referral", "ld-service", "curiosity"]
STATUSES = ["given", "declined", "withdrawn", "not-possible", None, "maybe"]
CODES = ["POL-NE", "CPS-NE", "MC-NE", "PROB-NE", "YOT-NE", "MHT-NE", "OTHER"]
BASES = ["safeguarding", "crime-prevention-detection", "serious-harm", "emergency", "curiosity"]


@st.composite
def overrides(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, max_size=3))
    return [
        {
            "id": oid,
            "basis": draw(st.sampled_from(BASES)),
            "recipients": sorted(draw(st.sets(st.sampled_from(CODES), max_size=3))),
        }
        for oid in ids
    ]


@st.composite
def consents(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "status": draw(st.sampled_from(STATUSES)),
        "limited_to_agencies": sorted(draw(st.sets(st.sampled_from(CODES), max_size=2))),
        "limited_to_purposes": sorted(draw(st.sets(st.sampled_from(PURPOSES[:4]), max_size=2))),
        "gillick_competent": draw(st.sampled_from([True, False, None])),
        "best_interests_recorded": draw(st.booleans()),
    }


@st.composite
def policy_inputs(draw: st.DrawFn) -> dict[str, Any]:
    """Inputs as build_input makes them (plus unknown types, purposes and statuses)."""
    age = draw(st.integers(min_value=10, max_value=90))
    return {
        "recipient": {"agency_type": draw(st.sampled_from(AGENCY_TYPES)), "agency_code": draw(st.sampled_from(CODES))},
        "purpose": draw(st.sampled_from(PURPOSES)),
        "subject": {"age": age, "age_group": "child" if age < 18 else "adult"},
        "consent": draw(consents()),
        "overrides": draw(overrides()),
    }
