"""What the IG pages read from the disclosure log, kept small and in one place.

These read the ``disclosure_log`` table directly. When the audit queries of the log issue
(``gateway.audit.queries``) land, these functions become thin calls to them; the pages only see the
values defined here.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from gateway.assessments import store
from gateway.audit import log
from gateway.audit.events import AuditEvent
from gateway.audit.verify import StoredRow
from gateway.db.models import Agency, Client, DisclosureLogEntry, LogCheckpoint, VerificationRun
from gateway.keys import KeyRing

DISCLOSURE_EVENTS = (str(AuditEvent.BUNDLE_RELEASED), str(AuditEvent.BUNDLE_DENIED))
PAGE_SIZE = 25


@dataclass(frozen=True)
class SearchFilters:
    subject_keys: tuple[str, ...] = ()
    agency_code: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str = "disclosures"  # disclosures | staff | all


@dataclass(frozen=True)
class LogRow:
    seq: int
    disclosure_id: str
    event: str
    created_at: datetime
    agency_code: str | None
    purpose: str | None
    outcome: str
    client_id: str | None
    entry: dict[str, Any] = field(default_factory=dict)


def subject_keys_for_nhs_number(session: Session, keyring: KeyRing, nhs_number: str) -> tuple[str, ...]:
    """The keys under which the log names this person: their subject key when the gateway knows them,
    and the identifier's own HMAC (under which searches for a person nobody knew were logged)."""
    keys = [keyring.identifier_hmac(store.NHS_NUMBER, nhs_number)]
    subject_id = store.find_subject_id(session, keyring, store.NHS_NUMBER, nhs_number)
    if subject_id is not None:
        keys.insert(0, keyring.identifier_hmac("subject", subject_id))
    return tuple(keys)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _row(entry: DisclosureLogEntry) -> LogRow:
    return LogRow(
        seq=entry.seq,
        disclosure_id=entry.disclosure_id,
        event=entry.event,
        created_at=_aware(entry.created_at),
        agency_code=entry.agency_code,
        purpose=entry.purpose,
        outcome=entry.outcome,
        client_id=entry.client_id,
        entry=json.loads(entry.entry),
    )


def _filtered(query: Select[Any], filters: SearchFilters) -> Select[Any]:
    t = DisclosureLogEntry
    if filters.kind == "disclosures":
        query = query.where(t.event.in_(DISCLOSURE_EVENTS))
    elif filters.kind == "staff":
        query = query.where(t.event.like("ig:%"))
    if filters.subject_keys:
        query = query.where(t.subject_key.in_(filters.subject_keys))
    if filters.agency_code:
        query = query.where(t.agency_code == filters.agency_code)
    if filters.purpose:
        query = query.where(t.purpose == filters.purpose)
    if filters.outcome:
        query = query.where(t.outcome == filters.outcome)
    if filters.date_from:
        query = query.where(t.created_at >= datetime.combine(filters.date_from, time.min, UTC))
    if filters.date_to:
        query = query.where(t.created_at < datetime.combine(filters.date_to + timedelta(days=1), time.min, UTC))
    return query


def search(
    session: Session, filters: SearchFilters, *, before_seq: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[LogRow], int | None]:
    """Newest first, one page; keyset pagination on ``seq``. Returns the rows and the next page's cursor."""
    query = _filtered(select(DisclosureLogEntry), filters)
    if before_seq is not None:
        query = query.where(DisclosureLogEntry.seq < before_seq)
    rows = session.execute(query.order_by(DisclosureLogEntry.seq.desc()).limit(limit + 1)).scalars().all()
    page = [_row(r) for r in rows[:limit]]
    return page, (page[-1].seq if len(rows) > limit else None)


def count(session: Session, filters: SearchFilters) -> int:
    return int(session.execute(_filtered(select(func.count()).select_from(DisclosureLogEntry), filters)).scalar_one())


def disclosure(session: Session, disclosure_id: str) -> LogRow | None:
    row = session.execute(
        select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
    ).scalar_one_or_none()
    return None if row is None else _row(row)


def subject_history(session: Session, subject_keys: Sequence[str], limit: int = 1000) -> list[LogRow]:
    """Every disclosure and refusal about one person, oldest first (a subject access report)."""
    if not subject_keys:
        return []
    query = (
        select(DisclosureLogEntry)
        .where(DisclosureLogEntry.subject_key.in_(tuple(subject_keys)))
        .where(DisclosureLogEntry.event.in_(DISCLOSURE_EVENTS))
        .order_by(DisclosureLogEntry.seq)
        .limit(limit)
    )
    return [_row(r) for r in session.execute(query).scalars()]


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
        if outcome == "denied":
            reasons[str(json.loads(raw).get("reason") or "unrecorded")] += 1
            continue
        by_type[types.get(agency_code or "", "unknown")][index[day]] += 1
        by_purpose[purpose or "none"][index[day]] += 1
    return Activity(
        days=span,
        by_agency_type=dict(sorted(by_type.items())),
        by_purpose=dict(sorted(by_purpose.items())),
        released=outcomes["released"],
        denied=outcomes["denied"],
        denial_reasons=reasons.most_common(8),
    )


def agencies_with_clients(session: Session) -> list[tuple[Agency, list[Client]]]:
    agencies = session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    clients: dict[int, list[Client]] = defaultdict(list)
    for client in session.execute(select(Client).order_by(Client.created_at)).scalars():
        clients[client.agency_id].append(client)
    return [(a, clients[a.id]) for a in agencies]


def agency_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Agency.code, Agency.name)).all())


def latest_run(session: Session) -> VerificationRun | None:
    return session.execute(
        select(VerificationRun).order_by(VerificationRun.started_at.desc()).limit(1)
    ).scalar_one_or_none()


def recent_runs(session: Session, limit: int = 10) -> list[VerificationRun]:
    return list(
        session.execute(select(VerificationRun).order_by(VerificationRun.started_at.desc()).limit(limit)).scalars()
    )


def log_size(session: Session) -> int:
    head = log.read_head(session)
    return 0 if head is None else head[0]


def log_rows(session: Session) -> Iterator[StoredRow]:
    return log.iter_rows(session)


def read_head(session: Session) -> tuple[int, str] | None:
    return log.read_head(session)


def recent_checkpoints(session: Session, limit: int = 10) -> list[LogCheckpoint]:
    return list(session.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size.desc()).limit(limit)).scalars())


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return session.execute(select(LogCheckpoint).order_by(LogCheckpoint.tree_size.desc()).limit(1)).scalar_one_or_none()


def covering_checkpoint(session: Session, seq: int) -> LogCheckpoint | None:
    """The first signed checkpoint whose tree includes entry ``seq`` (its inclusion can be proved against it)."""
    return session.execute(
        select(LogCheckpoint).where(LogCheckpoint.tree_size > seq).order_by(LogCheckpoint.tree_size).limit(1)
    ).scalar_one_or_none()
