"""Record-keeping that IG must be able to see: merges, unmerges and retention erasures, each logged.

Each action and its disclosure-log entry commit together. Entries name people only by their keyed
subject hash (``HMAC("subject", id)``), like every other entry: no personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.assessments import demographics, identity, store
from gateway.assessments.retention import Retention, is_expired, retention_of_contents
from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.db import unit_of_work
from gateway.db.models import Subject
from gateway.keys import KeyRing


def _log(
    session: Session, keyring: KeyRing, event: AuditEvent, outcome: Outcome, subject_id: str, reason: str, now: datetime
) -> str:
    appended = log.append(
        session,
        NewEntry(
            event=event,
            outcome=outcome,
            created_at=now,
            subject_key=store.subject_key(keyring, subject_id),
            reason=reason,
        ),
    )
    return appended.disclosure_id


def merge_subjects(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    *,
    keep: str,
    absorb: str,
    by: str,
    reference: str | None,
    now: datetime,
) -> identity.MergeRecord:
    """Merge ``absorb`` into ``keep`` and log it (under the kept subject; the other by its keyed hash)."""

    def work(session: Session) -> identity.MergeRecord:
        record = identity.merge(session, keep=keep, absorb=absorb, by=by, reference=reference, now=now)
        other = store.subject_key(keyring, absorb)
        _log(session, keyring, AuditEvent.SUBJECT_MERGED, Outcome.ACCEPTED, keep, f"merged:{other}", now)
        return record

    return unit_of_work.run(sessions, work)


def unmerge_subject(
    sessions: sessionmaker[Session], keyring: KeyRing, *, subject_id: str, by: str, now: datetime
) -> identity.MergeRecord:

    def work(session: Session) -> identity.MergeRecord:
        record = identity.unmerge(session, subject_id=subject_id, by=by, now=now)
        other = store.subject_key(keyring, subject_id)
        into = record.into_subject_id
        _log(session, keyring, AuditEvent.SUBJECT_UNMERGED, Outcome.ACCEPTED, into, f"unmerged:{other}", now)
        return record

    return unit_of_work.run(sessions, work)


def accept_identity(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    *,
    subject_id: str,
    family_name: str | None,
    birth_date: str | None,
    by: str,
    reference: str | None,
    now: datetime,
) -> list[str]:
    """Resolve an identity conflict as "the same person": accept this family name and/or date of birth as
    also theirs, so a publish that gives them joins this person. Logged by element, never by value."""

    def work(session: Session) -> list[str]:
        subject = session.get(Subject, subject_id)
        if subject is None or subject.wrapped_key is None:
            raise identity.MergeError(f"no subject {subject_id}, or it has been erased")
        root = identity.resolve(session, subject_id)
        elements = demographics.accept(
            session,
            keyring,
            subject_id=root,
            family_name=family_name,
            birth_date=birth_date,
            by=by,
            reference=reference,
            now=now,
        )
        if not elements:
            raise identity.MergeError("give a family name, a date of birth, or both")
        reason = "accepted:" + ",".join(sorted(set(elements)))
        _log(session, keyring, AuditEvent.SUBJECT_IDENTITY_ACCEPTED, Outcome.DONE, root, reason, now)
        return elements

    return unit_of_work.run(sessions, work)


def detach_identifier(
    sessions: sessionmaker[Session], keyring: KeyRing, *, subject_id: str, system: str, value: str, now: datetime
) -> str:
    """Resolve an identity conflict as "not this person": the identifier was on their record by mistake."""

    def work(session: Session) -> str:
        holder = identity.detach_identifier(
            session, subject_id=subject_id, system=system, value_hmac=store.identifier_key(keyring, system, value)
        )
        _log(session, keyring, AuditEvent.SUBJECT_IDENTIFIER_DETACHED, Outcome.DONE, holder, f"detached:{system}", now)
        return holder

    return unit_of_work.run(sessions, work)


@dataclass(frozen=True)
class Expired:
    """One person (a merge group) whose retention period has ended."""

    subject_ids: tuple[str, ...]
    retention: Retention


def _judge(session: Session, keyring: KeyRing, subject_id: str, today: date) -> Expired | None:
    """The person ``subject_id`` belongs to (their merge group), if their retention period has ended."""
    members = identity.group(session, identity.resolve(session, subject_id))
    contents = [c for sid in members for c in store.subject_contents(session, keyring, sid)]
    kept = retention_of_contents(contents)
    return Expired(tuple(members), kept) if kept is not None and is_expired(kept.keep_until, today) else None


def expired_subjects(sessions: sessionmaker[Session], keyring: KeyRing, today: date) -> list[Expired]:
    """Every unerased person whose period has ended, judged over all their merged records together."""

    def judge(session: Session) -> list[Expired]:
        roots = {
            identity.resolve(session, sid)
            for sid in session.execute(select(Subject.id).where(Subject.wrapped_key.is_not(None))).scalars()
        }
        return [expired for root in sorted(roots) if (expired := _judge(session, keyring, root, today))]

    # One snapshot for the whole judgement, holding no write lock while every record is opened.
    return unit_of_work.read(sessions, judge, snapshot=True)


def run_retention(
    sessions: sessionmaker[Session],
    keyring: KeyRing,
    *,
    today: date,
    now: datetime,
    dry_run: bool = False,
    on_subject: Callable[[Expired], None] | None = None,
) -> list[Expired]:
    """Crypto-shred every expired person (one transaction each, with one log entry per subject record).

    The log entry's reason names the rule (e.g. ``retention:adult-20-years``), never a date of birth or death.
    """

    def erase(item: Expired) -> Callable[[Session], bool]:
        def work(session: Session) -> bool:
            # Judged again in the erasing transaction: a record published or merged since the judgement
            # may keep the person longer, or join another record to them; shredding is for good.
            again = _judge(session, keyring, item.subject_ids[0], today)
            if again is None or again.retention != item.retention or set(again.subject_ids) != set(item.subject_ids):
                return False
            for sid in item.subject_ids:
                store.shred_subject(session, sid, now)
                reason = f"retention:{item.retention.rule}"
                _log(session, keyring, AuditEvent.SUBJECT_ERASED, Outcome.ERASED, sid, reason, now)
            return True

        return work

    erased = []
    for item in expired_subjects(sessions, keyring, today):
        if not dry_run and not unit_of_work.run(sessions, erase(item)):
            continue  # changed since it was judged: the next run judges it afresh
        erased.append(item)
        if on_subject is not None:
            on_subject(item)
    return erased
