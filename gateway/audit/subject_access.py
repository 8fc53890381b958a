"""Subject access requests against the log: find the person, build their report, record the clinician's
sign-off. The ``/audit/subjects`` routes call these and only translate.

A person is found by NHS number or by PNC ID (many people in custody have no verified NHS number),
keyed exactly as the identity store keys them (``queries.subject_keys_for``). The report holds what
the caller's view of the log holds about them (``queries.Scope``), filtered by event if asked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import store
from gateway.assessments.identifiers import is_valid_nhs_number, is_valid_pnc_id, normalise_pnc_id
from gateway.audit import queries, reports, signoffs
from gateway.audit.events import AuditEvent
from gateway.db import unit_of_work
from gateway.keys import KeyRing

_EVENTS = frozenset(str(e) for e in AuditEvent)
_STAFF_PREFIX = "ig:"


@dataclass(frozen=True)
class Person:
    """Who a report is about: the identifier system (``store.NHS_NUMBER`` / ``store.PNC_ID``) and value."""

    system: str
    value: str


@dataclass(frozen=True)
class Caller:
    """The L&D service asking (its own view of the log and its own sign-offs)."""

    scope: queries.Scope | None
    agency_code: str | None
    agency_type: str | None = None
    client_id: str | None = None
    purpose: str | None = None
    network: str | None = None


class UnknownPerson(LookupError):
    """Not a person the caller assessed: unknown to the gateway, or only another service's. One refusal
    for both, so that a sign-off is no oracle for who else holds a record of someone."""


def person_of(params: Mapping[str, Any]) -> tuple[Person | None, list[str]]:
    """The person named by ``nhs_number`` or ``pnc_id`` (exactly one), or the problems with them."""
    nhs, pnc = params.get("nhs_number"), params.get("pnc_id")
    if (nhs is None) == (pnc is None):
        return None, ["give nhs_number or pnc_id (one of them)"]
    if isinstance(nhs, str):
        nhs = nhs.replace(" ", "")
        if not is_valid_nhs_number(nhs):
            return None, ["nhs_number: not a valid NHS number"]
        return Person(store.NHS_NUMBER, nhs), []
    value = normalise_pnc_id(str(pnc).strip())
    if not is_valid_pnc_id(value):
        return None, ["pnc_id: not a valid PNC ID (YYYY/NNNNNNNL)"]
    return Person(store.PNC_ID, value), []


def events_of(values: Sequence[str]) -> tuple[tuple[str, ...] | None, list[str]]:
    """The ``event`` filter: event names, repeated or comma-separated; none given is every event."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in _EVENTS]
    if unknown:
        return None, [f"event: unknown event {n!r}" for n in unknown]
    return (tuple(dict.fromkeys(names)) or None), []


def _keys(session: Session, keyring: KeyRing, person: Person) -> tuple[str, ...]:
    return queries.subject_keys_for(session, keyring, person.system, person.value)


def report(
    session: Session,
    keyring: KeyRing,
    person: Person,
    caller: Caller,
    sections: Mapping[str, str],
    events: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The subject access report (``reports.subject_report``) as this caller may see it."""
    keys = _keys(session, keyring, person)
    filters = queries.DisclosureFilter(subject_keys=keys, events=events, scope=caller.scope)
    records = list(queries.iter_disclosures(session, filters))
    # The sign-off covers the whole report, not a filtered view: it is judged against every entry.
    last = _last_seq(session, keys, caller) if events is not None else _last_of(records)
    sign_off = signoffs.latest(session, keys, caller.agency_code)
    return reports.subject_report(records, sections, sign_off=sign_off, events=events, last_seq=last)


@dataclass(frozen=True)
class ServiceSignOff:
    """One L&D service's latest sign-off of its report about a person, and whether it still covers that
    report (no entry in the service's own view of the log came after the check)."""

    agency_code: str
    sign_off: reports.SignOff
    current: bool


def sign_offs(session: Session, keyring: KeyRing, keys: tuple[str, ...]) -> list[ServiceSignOff]:
    """Every service's latest sign-off about the person named by ``keys``, for IG staff (who see the whole
    log). Each is judged against the report that service signed, its own view of the log, not IG's."""
    out = []
    for agency_code, signed in signoffs.latest_by_service(session, keys):
        caller = Caller(scope=queries.agency_scope(session, keyring, agency_code), agency_code=agency_code)
        out.append(ServiceSignOff(agency_code, signed, signed.through_seq >= _last_seq(session, keys, caller)))
    return out


def _last_of(records: Iterable[queries.DisclosureRecord]) -> int:
    """The last entry a report holds that a clinician's check covers: sign-offs aside (signing a report
    does not make it stale), and IG staff actions aside (staff reading the log share nothing with anyone;
    counted, IG producing the report to release it would make its own sign-off stale)."""
    last = -1
    for r in records:
        if r.event != AuditEvent.SUBJECT_REPORT_SIGNED_OFF and not r.event.startswith(_STAFF_PREFIX):
            last = max(last, r.seq)
    return last


def _last_seq(session: Session, keys: tuple[str, ...], caller: Caller) -> int:
    return _last_of(queries.iter_disclosures(session, queries.DisclosureFilter(subject_keys=keys, scope=caller.scope)))


def sign_off(
    tx: Session, keyring: KeyRing, person: Person, caller: Caller, *, clinician: str, decision: str, now: datetime
) -> reports.SignOff:
    """Record the clinician's serious-harm check of the report as it now stands (``signoffs.record``).

    Only for a person the caller's own assessments are about (its audit scope): UnknownPerson otherwise,
    before anything is written. ValueError names a bad clinician or decision."""
    if caller.agency_code is None or caller.scope is None:
        raise ValueError("only an L&D service signs off its reports")
    keys = _keys(tx, keyring, person)
    scope = caller.scope
    if not any(scope.covers(None, key) for key in keys):
        raise UnknownPerson("no such person")
    last = _last_seq(tx, keys, caller)
    return signoffs.record(
        tx,
        subject_keys=keys,
        caller=caller,
        clinician=clinician,
        decision=decision,
        through_seq=last,
        now=now,
    )


@dataclass(frozen=True)
class NoSuchPerson:
    """Nobody, or only another service's person: the same answer either way; nothing was written."""


@dataclass(frozen=True)
class InvalidSignOff:
    problem: str  # a bad clinician or decision; nothing was written


def run_sign_off(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    person: Person,
    caller_of: Callable[[Session], Caller],
    *,
    clinician: str,
    decision: str,
    now: datetime,
) -> reports.SignOff | NoSuchPerson | InvalidSignOff:
    """:func:`sign_off` as a use case in its own unit of work (the caller's scope read in the same
    transaction); a refusal rolls it back and is answered as a value."""

    def work(tx: Session) -> reports.SignOff:
        return sign_off(tx, keyring, person, caller_of(tx), clinician=clinician, decision=decision, now=now)

    try:
        return unit_of_work.run(sessions, work)
    except UnknownPerson:
        return NoSuchPerson()
    except ValueError as exc:
        return InvalidSignOff(str(exc))
