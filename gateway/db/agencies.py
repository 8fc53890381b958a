"""Agencies by code and by id, cached per process.

An agency row never changes once registered (codes, names and types have no update path; clients are
what is revoked, and revocation has its own cache with its 1 s promise, gateway.auth.store). So a
found agency is cached for the life of the process and a lookup costs no statement; a code not found
is never cached, so an agency registered by `ld-gateway agency add` in another process is seen at
once. :meth:`AgencyDirectory.clear` is the explicit invalidation, should an agency ever be changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from gateway.db.models import Agency


@dataclass(frozen=True)
class AgencyRef:
    id: int
    code: str
    name: str
    type: str
    ods_code: str | None = None


class AgencyDirectory:
    def __init__(self) -> None:
        self._by_code: dict[str, AgencyRef] = {}
        self._by_id: dict[int, AgencyRef] = {}
        self._lock = threading.Lock()

    def by_code(self, session: Session, code: str) -> AgencyRef | None:
        return self._by_code.get(code) or self._load(session, Agency.code == code)

    def by_id(self, session: Session, agency_id: int) -> AgencyRef | None:
        return self._by_id.get(agency_id) or self._load(session, Agency.id == agency_id)

    def _load(self, session: Session, condition: ColumnElement[bool]) -> AgencyRef | None:
        row = session.execute(
            select(Agency.id, Agency.code, Agency.name, Agency.type, Agency.ods_code).where(condition)
        ).first()
        return None if row is None else self._keep(AgencyRef(*row))

    def clear(self) -> None:
        with self._lock:
            self._by_code.clear()
            self._by_id.clear()

    def _keep(self, agency: AgencyRef) -> AgencyRef:
        with self._lock:
            self._by_code[agency.code] = agency
            self._by_id[agency.id] = agency
        return agency
