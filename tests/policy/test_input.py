from __future__ import annotations

from datetime import date

import pytest

from gateway.policy import build_input
from gateway.policy.input import age_on


def make(dob: date, on: date, **consent):
    return build_input(
        agency_type="police",
        agency_code="POL-NE",
        purpose="charging",
        date_of_birth=dob,
        on=on,
        consent=consent or {"status": "given"},
    )


def test_the_input_shape_carries_no_personal_data():
    built = make(
        date(1990, 4, 1),
        date(2026, 11, 20),
        status="given",
        best_interests_decision="text",
        recorded_at="2026-11-20T10:05:00Z",
    )

    assert built == {
        "recipient": {"agency_type": "police", "agency_code": "POL-NE"},
        "purpose": "charging",
        "subject": {"age": 36, "age_group": "adult"},
        "consent": {"status": "given", "limited_to_agencies": [], "limited_to_purposes": [], "gillick_competent": None},
    }


@pytest.mark.parametrize(
    ("dob", "on", "age", "group"),
    [
        (date(2008, 6, 15), date(2026, 6, 14), 17, "child"),
        (date(2008, 6, 15), date(2026, 6, 15), 18, "adult"),
        (date(2016, 1, 1), date(2026, 1, 1), 10, "child"),
        (date(2008, 2, 29), date(2026, 2, 28), 17, "child"),
        (date(2008, 2, 29), date(2026, 3, 1), 18, "adult"),
    ],
)
def test_age_and_age_group(dob, on, age, group):
    built = make(dob, on)

    assert built["subject"] == {"age": age, "age_group": group}


def test_a_birth_after_the_decision_date_is_refused():
    with pytest.raises(ValueError):
        age_on(date(2026, 1, 2), date(2026, 1, 1))


def test_consent_limits_and_gillick_are_normalised():
    built = make(
        date(2011, 1, 1),
        date(2026, 1, 1),
        status="given",
        limited_to_agencies=("YOT-NE",),
        limited_to_purposes=None,
        gillick_competent="yes",
    )

    assert built["consent"] == {
        "status": "given",
        "limited_to_agencies": ["YOT-NE"],
        "limited_to_purposes": [],
        "gillick_competent": None,
    }


def test_a_consent_limit_that_is_not_a_list_of_strings_is_refused():
    with pytest.raises(ValueError):
        make(date(1990, 1, 1), date(2026, 1, 1), status="given", limited_to_agencies="YOT-NE")
