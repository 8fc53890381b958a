"""What the IG pages read: the log through its one query layer (``gateway.audit.queries``), and the
agencies, clients and verification runs the pages list.

The pages' search form speaks in days and in kinds of entry; :class:`SearchFilters` says what they mean
to the log's :class:`~gateway.audit.queries.DisclosureFilter`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.audit import checkpoints, log, queries, subject_access
from gateway.audit.events import DISCLOSURE_EVENTS
from gateway.audit.queries import Activity, DisclosureRecord
from gateway.audit.verify import StoredRow
from gateway.db.models import Agency, Client, LogCheckpoint, StaffAccount, VerificationRun
from gateway.keys import KeyRing

PAGE_SIZE = 25
SUBJECT_HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class SearchFilters:
    subject_keys: tuple[str, ...] = ()
    agency_code: str | None = None
    purpose: str | None = None
    outcome: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    kind: str = "disclosures"  # disclosures | staff | all

    def for_log(self) -> queries.DisclosureFilter:
        return queries.DisclosureFilter(
            subject_keys=self.subject_keys or None,
            agency_code=self.agency_code,
            purpose=self.purpose,
            outcome=self.outcome,
            since=datetime.combine(self.date_from, time.min, UTC) if self.date_from else None,
            until=datetime.combine(self.date_to + timedelta(days=1), time.min, UTC) if self.date_to else None,
            events=tuple(DISCLOSURE_EVENTS) if self.kind == "disclosures" else None,
            event_prefix="ig:" if self.kind == "staff" else None,
        )


def subject_keys_for_nhs_number(session: Session, keyring: KeyRing, nhs_number: str) -> tuple[str, ...]:
    return queries.subject_keys(session, keyring, nhs_number)


def search(
    session: Session, filters: SearchFilters, *, before_seq: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[DisclosureRecord], int | None]:
    """Newest first, one page; keyset pagination on ``seq``. Returns the rows and the next page's cursor."""
    page = queries.list_disclosures(session, filters.for_log(), limit=limit, before=before_seq)
    return page.items, page.next_cursor


def count(session: Session, filters: SearchFilters) -> int:
    return queries.count_disclosures(session, filters.for_log())


def disclosure(session: Session, disclosure_id: str) -> DisclosureRecord | None:
    return queries.get_disclosure(session, disclosure_id)


def subject_history(
    session: Session, subject_keys: Sequence[str], limit: int = SUBJECT_HISTORY_LIMIT
) -> list[DisclosureRecord]:
    """Every disclosure and refusal about one person, oldest first (a subject access report)."""
    if not subject_keys:
        return []
    filters = queries.DisclosureFilter(subject_keys=tuple(subject_keys), events=tuple(DISCLOSURE_EVENTS))
    return list(queries.iter_disclosures(session, filters, limit=limit))


def subject_sign_offs(
    session: Session, keyring: KeyRing, subject_keys: Sequence[str]
) -> list[subject_access.ServiceSignOff]:
    """Each L&D service's latest clinician sign-off of its subject access report about the person."""
    return subject_access.sign_offs(session, keyring, tuple(subject_keys))


def activity(session: Session, *, today: date, days: int = 30) -> Activity:
    return queries.activity(session, today=today, days=days)


def agencies_with_clients(session: Session) -> list[tuple[Agency, list[Client]]]:
    agencies = session.execute(select(Agency).order_by(Agency.name)).scalars().all()
    clients: dict[int, list[Client]] = defaultdict(list)
    for client in session.execute(select(Client).order_by(Client.created_at)).scalars():
        clients[client.agency_id].append(client)
    return [(a, clients[a.id]) for a in agencies]


def agency_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Agency.code, Agency.name)).all())


def verification_run(session: Session, run_id: str) -> VerificationRun | None:
    return session.get(VerificationRun, run_id)


def client_with_agency(session: Session, client_id: str) -> tuple[Client, Agency] | None:
    client = session.get(Client, client_id)
    agency = None if client is None else session.get(Agency, client.agency_id)
    return None if client is None or agency is None else (client, agency)


def staff_account(session: Session, staff_id: str) -> StaffAccount | None:
    return session.get(StaffAccount, staff_id)


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
    return checkpoints.recent(session, limit)


def latest_checkpoint(session: Session) -> LogCheckpoint | None:
    return checkpoints.latest(session)


def covering_checkpoint(session: Session, seq: int) -> LogCheckpoint | None:
    return checkpoints.covering(session, seq)
