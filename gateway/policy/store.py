"""Stored policy revisions, and which one is in force (the I/O side of ``ld-gateway policy ...``).

A revision is stored whole: every production module, ``data.json`` and the catalogue ids it was
computed over, under its revision hash (gateway/policy/revision.py), so it can be diffed, audited and
served long after the files on disk have moved on. A gateway serving its policy directory stores it
at start (:func:`keep_served_revision`), so every revision a log entry names can be fetched later
(:func:`read_revision`: ``ld-gateway policy show``, ``GET /audit/policy-revisions/{revision}``).

Activating one is an admin action: it is written to the disclosure log (``admin:policy:activated``) in
the same transaction, and from then on a gateway starts only with that revision (served from its
stored bytes, with a copy for operators under GATEWAY_DATA_DIR/policy/<hash>/); with no revision
activated it serves the policy directory it is configured with.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.db import unit_of_work
from gateway.db.models import PolicyRevision
from gateway.policy.source import PolicyLoadError, PolicySource, policy_source, read_policy

ACTIVATED_EVENT = AuditEvent.POLICY_ACTIVATED
#: Who acted, in the log: the admin command line. The person is in policy_revisions.activated_by.
ADMIN_CLIENT = "ld-gateway-cli"


@dataclass(frozen=True, slots=True)
class StoredRevision:
    revision: str
    created_at: datetime
    activated_at: datetime | None
    activated_by: str | None


def store_revision(
    session: Session, policy_dir: Path, catalogue_ids: Sequence[str], now: datetime, *, expected: str | None = None
) -> str:
    """Store the policy in ``policy_dir`` (idempotent), read once, and return its revision.

    With ``expected`` (the revision an engine loaded from ``policy_dir``), refuses (:class:`PolicyLoadError`)
    when the directory no longer hashes to it: what is stored must be exactly what decides. A caller that
    holds the :class:`PolicySource` its engine loaded stores that instead (:func:`store_policy`).
    """
    source = read_policy(Path(policy_dir), catalogue_ids)
    if expected is not None and source.revision != expected:
        raise PolicyLoadError(f"{policy_dir}: the policy changed since it was loaded; start again")
    return store_policy(session, source, now)


def store_policy(session: Session, source: PolicySource, now: datetime) -> str:
    """Store exactly the bytes ``source`` was read as (and hashed over), under its revision (idempotent)."""
    _store(session, source.revision, source.texts(), source.catalogue_ids, now)
    return source.revision


def _store(session: Session, revision: str, files: dict[str, str], catalogue_ids: Sequence[str], now: datetime) -> None:
    # Decoded bytes, never text read with universal newlines: the stored files are the bytes hashed.
    if session.get(PolicyRevision, revision) is None:
        session.add(PolicyRevision(revision=revision, files=files, catalogue_ids=list(catalogue_ids), created_at=now))
        session.flush()


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A stored revision whole: what ``ld-gateway policy show`` prints."""

    revision: str
    created_at: datetime
    activated_at: datetime | None
    activated_by: str | None
    files: dict[str, str]
    catalogue_ids: list[str]

    def as_json(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "created_at": self.created_at.isoformat(),
            "activated_at": None if self.activated_at is None else self.activated_at.isoformat(),
            "activated_by": self.activated_by,
            "files": dict(sorted(self.files.items())),
            "catalogue_ids": list(self.catalogue_ids),
        }

    def as_shared_json(self) -> dict[str, object]:
        """The revision as any token holder may read it: the rules, not who activated them (an IG
        staff username is for the IG pages and the command line, not for partner agencies)."""
        shared = self.as_json()
        del shared["activated_by"]
        return shared


def keep_served_revision(sessions: sessionmaker[Session], source: PolicySource, *, now: datetime) -> None:
    """Store the policy a gateway is about to serve, in its own transaction, so that every revision that
    decides anything can be fetched later by the hash its log entries name.

    ``source`` is what the engine loaded (gateway/policy/source.py): the directory is not read again, so
    what is stored is exactly what decides, even if the files change after the engine read them.
    """
    files = source.texts()
    # An IntegrityError: another gateway process starting on the same policy stored it a moment earlier.
    with contextlib.suppress(IntegrityError):
        unit_of_work.run(sessions, lambda tx: _store(tx, source.revision, files, source.catalogue_ids, now))


_REVISION = re.compile(r"sha256:[0-9a-f]{64}")


def read_revision(session: Session, revision: str) -> StoredPolicy | None:
    """The stored revision; ``None`` for an unknown one or anything not shaped like a revision (never
    sent to the database: PostgreSQL refuses some characters a caller can put in a URL)."""
    if not _REVISION.fullmatch(revision):
        return None
    row = session.get(PolicyRevision, revision)
    if row is None:
        return None
    return StoredPolicy(
        row.revision, row.created_at, row.activated_at, row.activated_by, dict(row.files), list(row.catalogue_ids)
    )


def list_revisions(session: Session) -> list[StoredRevision]:
    rows = session.execute(select(PolicyRevision).order_by(PolicyRevision.created_at)).scalars()
    return [StoredRevision(r.revision, r.created_at, r.activated_at, r.activated_by) for r in rows]


def active_revision(session: Session) -> str | None:
    """The most recently activated revision, if any was."""
    row = session.execute(
        select(PolicyRevision.revision)
        .where(PolicyRevision.activated_at.is_not(None))
        .order_by(PolicyRevision.activated_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return row


def activate(session: Session, revision: str, *, by: str, now: datetime) -> None:
    """Put ``revision`` in force and log it, in the caller's transaction."""
    row = session.get(PolicyRevision, revision)
    if row is None:
        raise LookupError(f"no stored policy revision {revision}")
    row.activated_at = now
    row.activated_by = by
    log.append(
        session,
        NewEntry(
            event=AuditEvent.POLICY_ACTIVATED,
            outcome=Outcome.ACTIVATED,
            created_at=now,
            client_id=ADMIN_CLIENT,
            policy_revision=revision,
            reason="policy-activated",
        ),
    )


def materialise(session: Session, revision: str, root: Path) -> Path:
    """Write a stored revision's files under ``root/<hash>/`` and check that the directory, as handed
    out (``ld-gateway policy show --out``), hashes to the revision: a module already there that the
    revision lacks is refused, not exported with it."""
    source = materialise_source(session, revision, root)
    if read_policy(source.directory, source.catalogue_ids).revision != revision:
        raise PolicyLoadError(f"{source.directory} holds files that revision {revision} does not; not exported")
    return source.directory


def materialise_source(session: Session, revision: str, root: Path) -> PolicySource:
    """:func:`materialise`, and the policy as an engine loads it: built from the stored bytes, which must
    hash to ``revision``, never read back from the files just written.

    Several gateway processes can start at once on one data directory (``serve --workers N``) and write
    the same revision side by side, so each file is written whole under a temporary name and renamed into
    place (a reader sees the old file or the new one, never a half-written one), and a file that already
    holds the stored bytes is left alone. What decides is the stored policy, whatever the directory holds.
    """
    row = session.get(PolicyRevision, revision)
    if row is None:
        raise PolicyLoadError(f"no stored policy revision {revision}")
    target = Path(root) / revision.removeprefix("sha256:")
    files = [(rel, text.encode("utf-8")) for rel, text in row.files.items()]
    for rel, _ in files:
        if not (target / rel).resolve().is_relative_to(target.resolve()):
            raise PolicyLoadError(f"stored revision {revision} names a file outside its directory")
    try:
        source = policy_source(target, files, row.catalogue_ids)
    except PolicyLoadError as exc:
        raise PolicyLoadError(f"stored revision {revision} cannot be loaded: {exc}") from exc
    if source.revision != revision:
        raise PolicyLoadError(f"stored revision {revision} does not hash to its name")
    for rel, content in source.files:
        _write_whole(target / rel, content)
    return source


def _write_whole(path: Path, content: bytes) -> None:
    """Write ``content`` at ``path`` by an atomic rename, unless the file holds it already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if path.read_bytes() == content:
            return
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def active_policy_source(session: Session, data_dir: Path) -> PolicySource | None:
    """The activated revision as its engine loads it, from the stored bytes (:func:`materialise_source`,
    which also writes the operators' copy under ``data_dir/policy/``); ``None`` when none is active."""
    revision = active_revision(session)
    return None if revision is None else materialise_source(session, revision, Path(data_dir) / "policy")
