"""Retention periods (pure): a mental-health record 20 years after last contact; a child's the longer of that
and the children's period (to 25, or 26 if 17 at last contact); a recorded death 10 years after it, if sooner."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.assessments.retention import is_expired, retention, retention_of_contents


@pytest.mark.parametrize(
    ("dob", "contact", "until", "rule"),
    [
        (date(1980, 5, 1), date(2006, 1, 10), date(2026, 1, 10), "adult-20-years"),
        (date(1988, 1, 10), date(2006, 1, 10), date(2026, 1, 10), "adult-20-years"),  # 18 that day
        (date(1970, 1, 1), date(2004, 2, 29), date(2024, 2, 29), "adult-20-years"),
        (date(1970, 1, 1), date(2008, 2, 29), date(2028, 2, 29), "adult-20-years"),
        (date(1970, 1, 1), date(2012, 2, 29), date(2032, 2, 29), "adult-20-years"),
        (date(1970, 1, 1), date(2016, 2, 29), date(2036, 2, 29), "adult-20-years"),
        (date(1970, 1, 1), date(2000, 2, 29), date(2020, 2, 29), "adult-20-years"),
        (date(1970, 1, 1), date(2001, 3, 1), date(2021, 3, 1), "adult-20-years"),
        # A child's mental-health record: the longer period. At 17, the 26th birthday (2014-01-11) is
        # sooner than 20 years after contact, so the mental-health period holds.
        (date(1988, 1, 11), date(2006, 1, 10), date(2026, 1, 10), "child-mental-health-20-years"),  # 17
        (date(1990, 6, 1), date(2005, 6, 1), date(2025, 6, 1), "child-mental-health-20-years"),  # 15, not 2015
        (date(1992, 2, 29), date(2004, 3, 1), date(2024, 3, 1), "child-mental-health-20-years"),  # 12
        (date(2000, 2, 29), date(2010, 7, 1), date(2030, 7, 1), "child-mental-health-20-years"),  # 10
        # Were the children's period ever the longer (a contact before the age of 5), it would hold.
        (date(2003, 6, 1), date(2006, 6, 2), date(2028, 6, 1), "child-25th-birthday"),  # 3: 25th > 2026
        (date(2004, 2, 29), date(2007, 7, 1), date(2029, 3, 1), "child-25th-birthday"),  # 29 Feb -> 1 Mar
    ],
)
def test_periods(dob, contact, until, rule):
    result = retention(dob, contact)
    assert (result.keep_until, result.rule) == (until, rule)


@pytest.mark.parametrize(
    ("dob", "contact", "died", "until", "rule"),
    [
        # Died 3 years after an adult's last contact: 10 years after death, not 20 after contact.
        (date(1960, 3, 4), date(2010, 5, 6), date(2013, 8, 9), date(2023, 8, 9), "died-10-years"),
        # Died 15 years after contact: the 20 years after contact end sooner, and hold.
        (date(1960, 3, 4), date(2010, 5, 6), date(2025, 8, 9), date(2030, 5, 6), "adult-20-years"),
        # Exactly 10 years after contact: the same day either way; the period in life is kept.
        (date(1960, 3, 4), date(2010, 5, 6), date(2020, 5, 6), date(2030, 5, 6), "adult-20-years"),
        (date(1960, 3, 4), date(2010, 5, 6), date(2020, 5, 5), date(2030, 5, 5), "died-10-years"),
        # A child who died at 16, a year after the last contact: 10 years after death.
        (date(1995, 4, 1), date(2010, 4, 2), date(2011, 9, 30), date(2021, 9, 30), "died-10-years"),
        # Died on 29 February: 10 years later is 1 March in a common year.
        (date(1950, 1, 1), date(2012, 1, 1), date(2016, 2, 29), date(2026, 3, 1), "died-10-years"),
    ],
)
def test_a_recorded_death_starts_the_ten_year_rule_when_it_ends_sooner(dob, contact, died, until, rule):
    result = retention(dob, contact, died)
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


def test_a_date_of_death_in_any_version_counts_and_the_latest_contacts_wins():
    earlier = _content("1960-03-04", "2010-05-06T10:00:00Z")
    later = _content("1960-03-04", "2012-01-02T10:00:00Z")
    died_in_earlier = {**earlier, "subject": {**earlier["subject"], "date_of_death": "2013-08-09"}}
    assert retention_of_contents([died_in_earlier, later]) == retention(
        date(1960, 3, 4), date(2012, 1, 2), date(2013, 8, 9)
    )
    assert retention_of_contents([died_in_earlier, later]).keep_until == date(2023, 8, 9)
    corrected = {**later, "subject": {**later["subject"], "date_of_death": "2014-01-01"}}
    assert retention_of_contents([died_in_earlier, corrected]).keep_until == date(2024, 1, 1)
    unreadable = {**later, "subject": {**later["subject"], "date_of_death": "soon"}}
    assert retention_of_contents([unreadable]).rule == "adult-20-years"
