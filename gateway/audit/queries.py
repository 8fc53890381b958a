"""The disclosure log's one query layer. The /audit API, the IG pages, the requests concern's
notifications and the override reviews all read the log here, and only here is the hashed entry JSON
parsed (:func:`read_entry`); verification (``verify.py``, ``verify_log.py``) re-reads it on purpose, sharing
no code with what it checks.

- :func:`list_disclosures`: entries matching a :class:`DisclosureFilter`, newest first, a page at a
  time with keyset pagination (the cursor is the last ``seq`` seen; pages never shift as the log grows).
- :func:`count_disclosures`, :func:`iter_disclosures` (oldest first: exports, reports, notifications).
- :func:`get_disclosure`, :func:`get_disclosures`: by disclosure id.
- :func:`relying_on_override`: the releases that relied on one lawful override.
- :func:`subject_keys`, :func:`subject_keys_for`: the keys under which the log names a person found by
  NHS number or PNC ID.
- :func:`activity`: disclosures per day by agency type and purpose, refusals by reason (IG's charts).

Filters on indexed columns run in SQL. The override flag and the assessment id live only in the
hashed entry, so they are applied to each fetched batch (a filtered page may read more than ``limit``
rows to fill itself). Shapes for taking away: the CSV in ``export.py``, the subject access report in
``reports.py`` (its use cases in ``subject_access.py``), the FHIR AuditEvent rendering in ``balp.py``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.assessments import provenance, store
from gateway.audit.events import DISCLOSURE_EVENTS, AuditEvent, Outcome
from gateway.db.models import Agency, DisclosureLogEntry
from gateway.keys import KeyRing

MAX_LIMIT = 500


@dataclass(frozen=True)
class Scope:
    """What an L&D service may read of the log: entries about its own assessments, and entries about no
    assessment (refused searches) that name a person it assessed. Another service's person is not in it."""

    assessment_ids: frozenset[str]
    subject_keys: frozenset[str]
    # The service itself. A sign-off is its own act about a person and names no assessment: another
    # service that assessed the same person must not see it, as it would reveal this one's involvement.
    agency_code: str | None = None

    def covers(self, assessment_id: str | None, subject_key: str | None) -> bool:
        """Whether an entry about this assessment (or, about none, this person) is about the service's own."""
        if assessment_id is not None:
            return assessment_id in self.assessment_ids
        return subject_key is not None and subject_key in self.subject_keys

    def sees(self, record: DisclosureRecord) -> bool:
        """Whether this entry is in the service's view of the log."""
        if record.event == AuditEvent.SUBJECT_REPORT_SIGNED_OFF and record.agency_code != self.agency_code:
            return False
        return self.covers(record.assessment_id, record.subject_key)


def agency_scope(session: Session, keyring: KeyRing, agency_code: str) -> Scope:
    """An L&D service's view of the log: the entries about its own assessments and the people they are about."""
    published = provenance.published_by(session, agency_code)
    keys = frozenset(store.subject_key(keyring, s) for s in published.subject_ids)
    return Scope(published.assessment_ids, keys, agency_code)


@dataclass(frozen=True)
class DisclosureFilter:
    """All given filters must hold. ``subject_keys``: any of them (see :func:`subject_keys`);
    ``events``: any of these names; ``event_prefix``: names that start so (``"ig:"``: staff actions)."""

    subject_keys: tuple[str, ...] | None = None
    agency_code: str | None = None
    client_id: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    override: bool | None = None  # True: only entries that relied on a lawful override
    events: tuple[str, ...] | None = None
    event_prefix: str | None = None
    assessment_id: str | None = None
    # An L&D service's view; None: the whole log (IG staff).
    scope: Scope | None = None


@dataclass(frozen=True)
class DisclosureRecord:
    """One log entry as IG sees it: everything in the hashed entry, plus its position and leaf hash.

    ``entry`` is the hashed entry itself, as stored (``prev_hash`` included), for pages that show it.
    """

    seq: int
    leaf_hash: str
    disclosure_id: str
    event: str
    outcome: str
    created_at: datetime
    client_id: str | None
    agency_code: str | None
    agency_type: str | None
    purpose: str | None
    subject_key: str | None
    assessment_id: str | None
    assessment_version: int | None
    released: list[str]
    withheld: list[dict[str, str]]
    policy_revision: str | None
    decision_id: str | None
    body_sha256: str | None
    reason: str | None
    consent_status: str | None = None
    overrides: list[dict[str, str]] = field(default_factory=list)
    ig_review: bool = False
    consent_scope: dict[str, Any] | None = None
    lawful_basis: list[dict[str, Any]] = field(default_factory=list)
    entry: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def override(self) -> bool:
        return bool(self.overrides)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "entry"}
        data["created_at"] = self.created_at.isoformat()
        data["override"] = self.override
        return data


@dataclass(frozen=True)
class Page:
    items: list[DisclosureRecord]
    next_cursor: int | None  # pass as ``before`` for the next (older) page; None at the end


def read_entry(raw: str) -> dict[str, Any]:
    """The hashed entry's JSON, parsed (the one place that does)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("a log entry is a JSON object")
    return data


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def record_of(row: DisclosureLogEntry) -> DisclosureRecord:
    data = read_entry(row.entry)
    return DisclosureRecord(
        seq=row.seq,
        leaf_hash=row.leaf_hash,
        disclosure_id=data["disclosure_id"],
        event=data["event"],
        outcome=data["outcome"],
        created_at=_aware(datetime.fromisoformat(data["created_at"])),
        client_id=data.get("client_id"),
        agency_code=data.get("agency_code"),
        agency_type=data.get("agency_type"),
        purpose=data.get("purpose"),
        subject_key=data.get("subject_key"),
        assessment_id=data.get("assessment_id"),
        assessment_version=data.get("assessment_version"),
        released=list(data.get("released") or []),
        withheld=[dict(w) for w in data.get("withheld") or []],
        policy_revision=data.get("policy_revision"),
        decision_id=data.get("decision_id"),
        body_sha256=data.get("body_sha256"),
        reason=data.get("reason"),
        consent_status=data.get("consent_status"),
        overrides=[dict(o) for o in data.get("overrides") or []],
        ig_review=bool(data.get("ig_review", False)),
        consent_scope=data.get("consent_scope"),
        lawful_basis=[dict(b) for b in data.get("lawful_basis") or []],
        entry=data,
    )


def _filtered(q: Select[Any], filters: DisclosureFilter) -> Select[Any]:
    col = DisclosureLogEntry
    if filters.subject_keys is not None:
        q = q.where(col.subject_key.in_(filters.subject_keys))
    for name in ("agency_code", "client_id", "purpose", "outcome"):
        value = getattr(filters, name)
        if value is not None:
            q = q.where(getattr(col, name) == value)
    if filters.since is not None:
        q = q.where(col.created_at >= filters.since)
    if filters.until is not None:
        q = q.where(col.created_at < filters.until)
    if filters.events is not None:
        q = q.where(col.event.in_(filters.events))
    if filters.event_prefix is not None:
        q = q.where(col.event.startswith(filters.event_prefix, autoescape=True))
    return q


def _query(filters: DisclosureFilter) -> Select[DisclosureLogEntry]:
    return _filtered(select(DisclosureLogEntry), filters)


def _needs_entry(filters: DisclosureFilter) -> bool:
    return filters.override is not None or filters.assessment_id is not None or filters.scope is not None


def _keep(record: DisclosureRecord, filters: DisclosureFilter) -> bool:
    if filters.scope is not None and not filters.scope.sees(record):
        return False
    if filters.override is not None and record.override != filters.override:
        return False
    return filters.assessment_id is None or record.assessment_id == filters.assessment_id


def list_disclosures(
    session: Session, filters: DisclosureFilter, *, limit: int = 50, before: int | None = None
) -> Page:
    """Matching entries, newest first; ``before`` is the cursor from the previous page."""
    limit = max(1, min(limit, MAX_LIMIT))
    items: list[DisclosureRecord] = []
    cursor = before
    while len(items) < limit:
        q = _query(filters)
        if cursor is not None:
            q = q.where(DisclosureLogEntry.seq < cursor)
        rows = session.execute(q.order_by(DisclosureLogEntry.seq.desc()).limit(limit)).scalars().all()
        for row in rows:
            cursor = row.seq
            record = record_of(row)
            if _keep(record, filters):
                items.append(record)
                if len(items) == limit:
                    break
        if len(rows) < limit:
            return Page(items, None)
    more = _query(filters).where(DisclosureLogEntry.seq < items[-1].seq).limit(1)
    return Page(items, items[-1].seq if session.execute(more).first() else None)


def count_disclosures(session: Session, filters: DisclosureFilter) -> int:
    if _needs_entry(filters):
        return sum(1 for _ in iter_disclosures(session, filters))
    return int(session.execute(_filtered(select(func.count()).select_from(DisclosureLogEntry), filters)).scalar_one())


def iter_disclosures(
    session: Session, filters: DisclosureFilter, batch: int = 1000, *, limit: int | None = None
) -> Iterator[DisclosureRecord]:
    """Every matching entry (or the first ``limit``), oldest first."""
    last, given = -1, 0
    while True:
        q = _query(filters).where(DisclosureLogEntry.seq > last).order_by(DisclosureLogEntry.seq).limit(batch)
        rows = session.execute(q).scalars().all()
        if not rows:
            return
        for row in rows:
            record = record_of(row)
            if _keep(record, filters):
                if limit is not None and given >= limit:
                    return
                given += 1
                yield record
        last = rows[-1].seq


def get_disclosure(session: Session, disclosure_id: str) -> DisclosureRecord | None:
    row = session.execute(
        select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
    ).scalar_one_or_none()
    return None if row is None else record_of(row)


def get_disclosures(
    session: Session, disclosure_ids: Iterable[str], *, event: AuditEvent | None = None
) -> list[DisclosureRecord]:
    """The entries with these ids (and this event, if given), in log order."""
    ids = list(disclosure_ids)
    if not ids:
        return []
    q = select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id.in_(ids))
    if event is not None:
        q = q.where(DisclosureLogEntry.event == str(event))
    return [record_of(row) for row in session.execute(q.order_by(DisclosureLogEntry.seq)).scalars()]


def _naming_override(session: Session, event: AuditEvent, override_id: str) -> Iterator[DisclosureRecord]:
    """The entries of ``event`` whose overrides name this lawful override, oldest first."""
    # The id is a UUID, so a text match on the canonical JSON finds exactly the entries naming it
    # (confirmed by parsing each).
    rows = session.execute(
        select(DisclosureLogEntry)
        .where(DisclosureLogEntry.event == str(event))
        .where(DisclosureLogEntry.entry.contains(override_id))
        .order_by(DisclosureLogEntry.seq)
    ).scalars()
    records = (record_of(row) for row in rows)
    return (r for r in records if any(o.get("id") == override_id for o in r.overrides))


def relying_on_override(session: Session, override_id: str) -> list[DisclosureRecord]:
    """The releases that relied on this lawful override (each lists the overrides it relied on), oldest first."""
    return list(_naming_override(session, AuditEvent.BUNDLE_RELEASED, override_id))


def override_recorded(session: Session, override_id: str) -> DisclosureRecord | None:
    """The entry that recorded this lawful override (``ingest:override:recorded``), if the log holds it."""
    return next(_naming_override(session, AuditEvent.OVERRIDE_RECORDED, override_id), None)


def subject_keys(session: Session, keyring: KeyRing, nhs_number: str) -> tuple[str, ...]:
    """The log's keys for a person found by NHS number (:func:`subject_keys_for`)."""
    return subject_keys_for(session, keyring, store.NHS_NUMBER, nhs_number)


def subject_keys_for(session: Session, keyring: KeyRing, system: str, value: str) -> tuple[str, ...]:
    """The log's keys for a person found by an identifier (``store.NHS_NUMBER`` or ``store.PNC_ID``):
    their subject key first when the gateway knows them, then the keyed hash of the identifier itself
    (under which searches for a person the gateway did not know are logged). Keyed exactly as the
    identity store keys it (a PNC ID in its one normalised form), so every spelling finds the person."""
    keys = [store.identifier_key(keyring, system, value)]
    subject_id = store.find_subject_id(session, keyring, system, value)
    if subject_id is not None:
        keys.insert(0, store.subject_key(keyring, subject_id))
    return tuple(keys)


@dataclass(frozen=True)
class Activity:
    days: list[date]
    by_agency_type: dict[str, list[int]]
    by_purpose: dict[str, list[int]]
    released: int
    denied: int
    denial_reasons: list[tuple[str, int]]


def activity(session: Session, *, today: date, days: int = 30) -> Activity:
    """Disclosures per day over the last ``days`` days, by agency type and by purpose; denials by reason."""
    since = datetime.combine(today - timedelta(days=days - 1), time.min, UTC)
    types = dict(session.execute(select(Agency.code, Agency.type)).all())
    span = [today - timedelta(days=days - 1 - i) for i in range(days)]
    index = {d: i for i, d in enumerate(span)}
    by_type: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    by_purpose: dict[str, list[int]] = defaultdict(lambda: [0] * days)
    outcomes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    query = (
        select(
            DisclosureLogEntry.created_at,
            DisclosureLogEntry.agency_code,
            DisclosureLogEntry.purpose,
            DisclosureLogEntry.outcome,
            DisclosureLogEntry.entry,
        )
        .where(DisclosureLogEntry.created_at >= since)
        .where(DisclosureLogEntry.event.in_(DISCLOSURE_EVENTS))
    )
    for created_at, agency_code, purpose, outcome, raw in session.execute(query):
        day = _aware(created_at).date()
        if day not in index:
            continue
        outcomes[outcome] += 1
        if outcome == Outcome.DENIED:
            reasons[str(read_entry(raw).get("reason") or "unrecorded")] += 1
            continue
        by_type[types.get(agency_code or "", "unknown")][index[day]] += 1
        by_purpose[purpose or "none"][index[day]] += 1
    return Activity(
        days=span,
        by_agency_type=dict(sorted(by_type.items())),
        by_purpose=dict(sorted(by_purpose.items())),
        released=outcomes[Outcome.RELEASED],
        denied=outcomes[Outcome.DENIED],
        denial_reasons=reasons.most_common(8),
    )
