"""Retention periods (pure): adults 20 years after last contact; children to 25, or 26 if 17 at last contact."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.assessments.retention import is_expired, retention, retention_of_contents


@pytest.mark.parametrize(
    ("dob", "contact", "until", "rule"),
    [
        (date(1980, 5, 1), date(2006, 1, 10), date(2026, 1, 10), "adult-20-years"),
        (date(1988, 1, 10), date(2006, 1, 10), date(2026, 1, 10), "adult-20-years"),  # 18 that day
        (date(1988, 1, 11), date(2006, 1, 10), date(2014, 1, 11), "child-17-26th-birthday"),  # 17
        (date(1990, 6, 1), date(2005, 6, 1), date(2015, 6, 1), "child-25th-birthday"),  # 15
        (date(1992, 2, 29), date(2004, 3, 1), date(2017, 3, 1), "child-25th-birthday"),  # 29 Feb -> 1 Mar
        (date(1970, 1, 1), date(2004, 2, 29), date(2024, 2, 29), "adult-20-years"),
        (date(2000, 2, 29), date(2010, 7, 1), date(2025, 3, 1), "child-25th-birthday"),
    ],
)
def test_periods(dob, contact, until, rule):
    result = retention(dob, contact)
    assert (result.keep_until, result.rule) == (until, rule)


def test_expiry_is_on_the_day_the_period_ends():
    assert not is_expired(date(2026, 1, 10), date(2026, 1, 9))
    assert is_expired(date(2026, 1, 10), date(2026, 1, 10))


def _content(dob, assessed_at):
    return {"subject": {"date_of_birth": dob}, "context": {"assessed_at": assessed_at}}


def test_last_contact_is_the_latest_assessment_and_its_date_of_birth_wins():
    contents = [
        _content("1990-01-01", "2010-05-01T10:00:00Z"),
        _content("1990-01-02", "2012-05-01T10:00:00+01:00"),  # corrected date of birth, later contact
        {"subject": {}, "context": {}},  # unreadable versions are skipped
    ]
    assert retention_of_contents(contents).keep_until == date(2032, 5, 1)
    assert retention_of_contents([]) is None
