"""Which records are one person: resolving merges, and explicit merge and unmerge by an L&D administrator.

Matching at publish time (``store.publish``) is automatic but narrow: the NHS number, else the PNC ID,
else a case reference of an agency the person is already linked to. Names and dates of birth are never
used (DOMAIN.md: never merge on them alone). Everything else is a person's decision, made here.

**A merge moves nothing.** It records that subject B is now part of subject A (a ``subject_merges`` row).
B keeps its own data key, assessments, identifiers and case links; lookups resolve B to A, and A's
disclosures cover both. So **unmerge restores the prior state exactly**: it ends the merge row and every
record reads as it did before. (What was *published* while merged was published to A and stays there.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import BindParameter, Select, String, literal, select
from sqlalchemy.orm import Session

from gateway.db.models import Subject, SubjectIdentifier, SubjectMerge


class MergeError(Exception):
    """A merge or unmerge that must not happen; the message says why (no personal data)."""


def _active(session: Session, subject_id: str) -> SubjectMerge | None:
    return session.execute(
        select(SubjectMerge).where(SubjectMerge.subject_id == subject_id, SubjectMerge.unmerged_at.is_(None))
    ).scalar_one_or_none()


def resolve(session: Session, subject_id: str) -> str:
    """The subject that ``subject_id`` is part of now (itself when not merged)."""
    seen = {subject_id}
    while (row := _active(session, subject_id)) is not None:
        subject_id = row.into_subject_id
        if subject_id in seen:  # cannot happen through merge(); refuse to loop on a corrupted table
            raise MergeError("merge records form a cycle")
        seen.add(subject_id)
    return subject_id


def group(session: Session, root_id: str) -> list[str]:
    """``root_id`` and every subject merged into it, directly or through another."""
    members, frontier = [root_id], [root_id]
    while frontier:
        merged = list(
            session.execute(
                select(SubjectMerge.subject_id).where(
                    SubjectMerge.into_subject_id.in_(frontier), SubjectMerge.unmerged_at.is_(None)
                )
            ).scalars()
        )
        members.extend(merged)
        frontier = merged
    return members


def group_members(root_id: str | BindParameter[str]) -> Select[tuple[str]]:
    """:func:`group` as a subquery (a recursive CTE), to use inside another statement's ``IN``.

    ``UNION`` rather than ``UNION ALL``: a corrupted merge table with a cycle ends the recursion
    instead of looping.
    """
    root = root_id if isinstance(root_id, BindParameter) else literal(root_id, String)
    members = select(root.label("subject_id")).cte("merge_group", recursive=True)
    merged = (
        select(SubjectMerge.subject_id)
        .join(members, SubjectMerge.into_subject_id == members.c.subject_id)
        .where(SubjectMerge.unmerged_at.is_(None))
    )
    group_cte = members.union(merged)
    return select(group_cte.c.subject_id)


def resolve_many(session: Session, subject_ids: Iterable[str]) -> dict[str, str]:
    """:func:`resolve` for many subjects at once: one query per level of merge depth, not per subject."""
    wanted = set(subject_ids)
    into: dict[str, str | None] = {}  # every merge edge learned so far; None: not merged into another

    def walk(subject_id: str) -> tuple[str, bool]:
        """How far the known edges lead, and whether that is the end (False: the next edge is unknown)."""
        seen = {subject_id}
        while subject_id in into:
            nxt = into[subject_id]
            if nxt is None:
                return subject_id, True
            if nxt in seen:  # cannot happen through merge(); refuse to loop on a corrupted table
                raise MergeError("merge records form a cycle")
            seen.add(nxt)
            subject_id = nxt
        return subject_id, False

    while True:
        unknown = {end for end, done in map(walk, wanted) if not done}
        if not unknown:
            return {sid: walk(sid)[0] for sid in wanted}
        into.update(dict.fromkeys(unknown))
        into.update(
            session.execute(
                select(SubjectMerge.subject_id, SubjectMerge.into_subject_id).where(
                    SubjectMerge.subject_id.in_(unknown), SubjectMerge.unmerged_at.is_(None)
                )
            ).all()
        )


def group_many(session: Session, root_ids: Iterable[str]) -> dict[str, list[str]]:
    """:func:`group` for many roots at once: one query per level of merge depth, not per root."""
    groups = {root: [root] for root in root_ids}
    root_of = {root: root for root in groups}
    frontier = list(groups)
    while frontier:
        rows = session.execute(
            select(SubjectMerge.subject_id, SubjectMerge.into_subject_id).where(
                SubjectMerge.into_subject_id.in_(frontier), SubjectMerge.unmerged_at.is_(None)
            )
        ).all()
        frontier = []
        for member, into in rows:
            root_of[member] = root_of[into]
            groups[root_of[into]].append(member)
            frontier.append(member)
    return groups


@dataclass(frozen=True)
class MergeRecord:
    merge_id: int
    subject_id: str
    into_subject_id: str


def merge(session: Session, *, keep: str, absorb: str, by: str, reference: str | None, now: datetime) -> MergeRecord:
    """Make ``absorb`` part of ``keep``. Both must exist, be unerased and not already merged into another."""
    if keep == absorb:
        raise MergeError("a subject cannot be merged into itself")
    subjects = {s.id: s for s in session.execute(select(Subject).where(Subject.id.in_([keep, absorb]))).scalars()}
    for sid in (keep, absorb):
        if sid not in subjects:
            raise MergeError(f"no subject {sid}")
        if subjects[sid].wrapped_key is None:
            raise MergeError(f"subject {sid} has been erased")
        if _active(session, sid) is not None:
            raise MergeError(f"subject {sid} is already merged into another; merge into that one")
    keep_nhs = _systems(session, group(session, keep), "nhs-number")
    absorb_nhs = _systems(session, group(session, absorb), "nhs-number")
    if keep_nhs and absorb_nhs:
        # Two NHS numbers are two people to the NHS: a merge would attach one person's health record to another.
        raise MergeError("both subjects have an NHS number: an NHS number identifies one person")
    row = SubjectMerge(
        subject_id=absorb, into_subject_id=keep, merged_at=now, merged_by=by, reference=reference, unmerged_at=None
    )
    session.add(row)
    session.flush()
    return MergeRecord(row.id, absorb, keep)


def unmerge(session: Session, *, subject_id: str, by: str, now: datetime) -> MergeRecord:
    """End the active merge of ``subject_id`` into another subject."""
    row = _active(session, subject_id)
    if row is None:
        raise MergeError(f"subject {subject_id} is not merged into another")
    row.unmerged_at = now
    row.unmerged_by = by
    session.flush()
    return MergeRecord(row.id, row.subject_id, row.into_subject_id)


def _systems(session: Session, subject_ids: list[str], system: str) -> set[str]:
    return set(
        session.execute(
            select(SubjectIdentifier.value_hmac).where(
                SubjectIdentifier.subject_id.in_(subject_ids), SubjectIdentifier.system == system
            )
        ).scalars()
    )


def detach_identifier(session: Session, *, subject_id: str, system: str, value_hmac: str) -> str:
    """Take an identifier (by its keyed hash) off the person ``subject_id`` resolves to: it was on their
    record by mistake. Returns the subject record that held it. A later publish that gives it then makes,
    or joins, whoever it truly belongs to; the record that carried it must be corrected first, or its next
    version will claim it again."""
    root = resolve(session, subject_id)
    row = session.execute(
        select(SubjectIdentifier).where(
            SubjectIdentifier.system == system,
            SubjectIdentifier.value_hmac == value_hmac,
            SubjectIdentifier.subject_id.in_(group(session, root)),
        )
    ).scalar_one_or_none()
    if row is None:
        raise MergeError(f"subject {subject_id} does not have this identifier")
    holder = row.subject_id
    session.delete(row)
    session.flush()
    return holder
