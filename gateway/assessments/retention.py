"""How long a person's records are kept (pure): Records Management Code of Practice 2021, as DOMAIN.md states it.

An L&D assessment is a mental-health record, so its period is the mental-health one, and for a child
also the children's one, whichever is longer (DOMAIN.md: "where both apply ... keep the longer"):

* **An adult at last contact**: 20 years after the last contact, the mental-health period (``adult-20-years``).
* **A child at last contact** (under 18): the longer of those 20 years and the children's period, until
  their 25th birthday, or their **26th** if they were 17 at last contact. The person is at least 10 at any
  assessment (the age of criminal responsibility), so 20 years after contact (age 30 or more) is in
  practice always the longer; the rule is kept whole so that the record says why
  (``child-mental-health-20-years``, or ``child-25th-birthday`` / ``child-17-26th-birthday`` should the
  children's period ever be the longer).
* **A recorded date of death** starts the 10-year rule: 10 years after death, when that ends sooner than
  the period above (the Code's "or 10 years after death"; a death shortens the time a record is kept,
  never lengthens it, since retention beyond the minimum must be justified) (``died-10-years``).

"Last contact" is the latest ``context.assessed_at`` of any version of any of the person's assessments; the
date of birth is the one in that version, and the date of death the one recorded in any version (the
latest recorded wins). The record is due for erasure on the day the period ends. A 29 February
anniversary falls on 1 March in a common year (as ``age_on`` counts birthdays).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.assessments.validation import age_on, parse_date, parse_date_time

MENTAL_HEALTH_YEARS = 20
AFTER_DEATH_YEARS = 10
CHILD_UNTIL_AGE = 25
CHILD_AT_17_UNTIL_AGE = 26
ADULT_AGE = 18


@dataclass(frozen=True)
class Retention:
    keep_until: date
    # adult-20-years | child-mental-health-20-years | child-25th-birthday | child-17-26th-birthday
    # | died-10-years (named in the erasure's log entry: never a date)
    rule: str


def _anniversary(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return date(day.year + years, 3, 1)


def _in_life(date_of_birth: date, last_contact: date) -> Retention:
    mental_health = _anniversary(last_contact, MENTAL_HEALTH_YEARS)
    age = age_on(date_of_birth, last_contact)
    if age >= ADULT_AGE:
        return Retention(mental_health, "adult-20-years")
    if age == ADULT_AGE - 1:
        child = Retention(_anniversary(date_of_birth, CHILD_AT_17_UNTIL_AGE), "child-17-26th-birthday")
    else:
        child = Retention(_anniversary(date_of_birth, CHILD_UNTIL_AGE), "child-25th-birthday")
    if child.keep_until > mental_health:
        return child
    return Retention(mental_health, "child-mental-health-20-years")


def retention(date_of_birth: date, last_contact: date, date_of_death: date | None = None) -> Retention:
    kept = _in_life(date_of_birth, last_contact)
    if date_of_death is not None:
        after_death = _anniversary(date_of_death, AFTER_DEATH_YEARS)
        if after_death < kept.keep_until:
            return Retention(after_death, "died-10-years")
    return kept


def is_expired(keep_until: date, today: date) -> bool:
    return today >= keep_until


def retention_of_contents(contents: Iterable[Mapping[str, Any]]) -> Retention | None:
    """The retention of one person from all their assessment versions; ``None`` when none is readable.

    The date of birth is the one in the latest contact's version (corrections win); the last contact is
    the latest assessment date across every version; a date of death recorded in any version counts
    (the one in the latest contact's version when several differ, as for the date of birth).
    """
    latest: tuple[date, date, date | None] | None = None
    died: date | None = None
    for content in contents:
        try:
            contact = parse_date_time(content["context"]["assessed_at"]).date()
            dob = parse_date(content["subject"]["date_of_birth"])
        except (KeyError, TypeError, ValueError):
            continue
        death = _date_of_death(content)
        if death is not None and died is None:
            died = death
        if latest is None or contact >= latest[0]:
            latest = (contact, dob, death)
    if latest is None:
        return None
    contact, dob, death = latest
    return retention(dob, contact, death if death is not None else died)


def _date_of_death(content: Mapping[str, Any]) -> date | None:
    try:
        return parse_date(content["subject"]["date_of_death"])
    except (KeyError, TypeError, ValueError):
        return None
