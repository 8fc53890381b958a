"""How long a person's records are kept (pure): Records Management Code of Practice 2021, as DOMAIN.md states it.

* An **adult** at last contact (18 or over): 20 years after the last contact (mental health records).
* A **child** at last contact: until their 25th birthday, or their **26th** if they were 17 at last contact.

"Last contact" is the latest ``context.assessed_at`` of any version of any of the person's assessments.
The record is due for erasure on the day the period ends. A 29 February anniversary falls on 1 March in a
common year (as ``age_on`` counts birthdays).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.assessments.validation import age_on, parse_date, parse_date_time

ADULT_YEARS = 20
CHILD_UNTIL_AGE = 25
CHILD_AT_17_UNTIL_AGE = 26
ADULT_AGE = 18


@dataclass(frozen=True)
class Retention:
    keep_until: date
    rule: str  # adult-20-years | child-25th-birthday | child-17-26th-birthday


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return date(day.year + years, 3, 1)


def retention(date_of_birth: date, last_contact: date) -> Retention:
    age = age_on(date_of_birth, last_contact)
    if age >= ADULT_AGE:
        return Retention(_anniversary(last_contact, ADULT_YEARS), "adult-20-years")
    if age == ADULT_AGE - 1:
        return Retention(_anniversary(date_of_birth, CHILD_AT_17_UNTIL_AGE), "child-17-26th-birthday")
    return Retention(_anniversary(date_of_birth, CHILD_UNTIL_AGE), "child-25th-birthday")


def is_expired(keep_until: date, today: date) -> bool:
    return today >= keep_until


def retention_of_contents(contents: Iterable[Mapping[str, Any]]) -> Retention | None:
    """The retention of one person from all their assessment versions; ``None`` when none is readable.

    The date of birth is the one in the latest contact's version (corrections win); the last contact is
    the latest assessment date across every version.
    """
    latest: tuple[date, date] | None = None
    for content in contents:
        try:
            contact = parse_date_time(content["context"]["assessed_at"]).date()
            dob = parse_date(content["subject"]["date_of_birth"])
        except (KeyError, TypeError, ValueError):
            continue
        if latest is None or contact >= latest[0]:
            latest = (contact, dob)
    if latest is None:
        return None
    return retention(latest[1], latest[0])
