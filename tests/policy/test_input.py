from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from gateway.policy import build_input
from gateway.policy.input import OverrideFacts, age_on


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
        "consent": {
            "status": "given",
            "limited_to_agencies": [],
            "limited_to_purposes": [],
            "gillick_competent": None,
            "best_interests_recorded": True,
            "parental_responsibility": False,
        },
        "overrides": [],
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
        "best_interests_recorded": False,
        "parental_responsibility": False,
    }


def test_consent_decided_by_a_person_with_parental_responsibility_is_a_fact_without_their_name():
    built = make(date(2014, 1, 1), date(2026, 1, 1), status="given", given_by={"name": "Pat", "relationship": "Mother"})

    assert built["consent"]["parental_responsibility"] is True
    assert "Pat" not in str(built)


def test_a_consent_limit_that_is_not_a_list_of_strings_is_refused():
    with pytest.raises(ValueError):
        make(date(1990, 1, 1), date(2026, 1, 1), status="given", limited_to_agencies="YOT-NE")


def _override(oid: str, recorded: datetime, expires: datetime, *recipients: str) -> OverrideFacts:
    return OverrideFacts(oid, "safeguarding", recipients, expires_at=expires, recorded_at=recorded)


def test_only_overrides_in_force_at_now_reach_the_policy():
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    overrides = [
        _override("b", now - hour, now + hour, "POL-NE", "POL-NE", "CPS-NE"),
        _override("a", now - 2 * hour, now, "POL-NE"),  # expired exactly now
        _override("c", now + hour, now + 2 * hour, "POL-NE"),  # not yet recorded
    ]

    built = build_input(
        agency_type="police",
        agency_code="POL-NE",
        purpose="charging",
        date_of_birth=date(1990, 1, 1),
        on=date(2026, 11, 26),
        consent={"status": "declined"},
        overrides=overrides,
        now=now,
    )

    assert built["overrides"] == [{"id": "b", "basis": "safeguarding", "recipients": ["CPS-NE", "POL-NE"]}]


def test_overrides_without_an_instant_are_refused():
    now = datetime(2026, 11, 26, tzinfo=UTC)
    with pytest.raises(ValueError, match="now"):
        build_input(
            agency_type="police",
            agency_code="POL-NE",
            purpose="charging",
            date_of_birth=date(1990, 1, 1),
            on=date(2026, 11, 26),
            consent={"status": "declined"},
            overrides=[_override("a", now, now + timedelta(days=1), "POL-NE")],
        )
