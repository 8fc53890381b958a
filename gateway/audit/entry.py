"""One log entry: what a caller asks to append (:class:`NewEntry`), the canonical stored form the leaf
hash covers (:class:`LogEntry`), and what the append gives back (:class:`Appended`). Pure: no I/O.

The entry carries no personal data: the subject appears only as a keyed hash, the response only as its
SHA-256. Canonical JSON = sorted keys, no insignificant white space, UTF-8; any change to a value
changes the bytes and so the leaf hash.

Stored formats only grow. A new field is optional, its default the value its absence always meant, and
is added to both :class:`NewEntry` and :class:`LogEntry` (a test holds the two to the same fields).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol, TypedDict

from gateway.audit.events import AuditEvent, Outcome

GENESIS_HASH = "0" * 64


def new_disclosure_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class WithheldField:
    field: str
    rule: str
    reason: str


class Caller(Protocol):
    """Who asked: an access token's context, or a publisher acting for an L&D service."""

    @property
    def client_id(self) -> str | None: ...
    @property
    def agency_code(self) -> str | None: ...
    @property
    def agency_type(self) -> str | None: ...
    @property
    def purpose(self) -> str | None: ...
    @property
    def network(self) -> str | None: ...


class CallerFields(TypedDict):
    client_id: str | None
    agency_code: str | None
    agency_type: str | None
    purpose: str | None
    network: str | None


def caller_fields(caller: Caller) -> CallerFields:
    """The caller's part of a :class:`NewEntry`, the same in every entry that records who asked."""
    return {
        "client_id": caller.client_id,
        "agency_code": caller.agency_code,
        "agency_type": caller.agency_type,
        "purpose": caller.purpose,
        "network": caller.network,
    }


@dataclass(frozen=True, kw_only=True)
class NewEntry:
    """An entry to append: :class:`LogEntry` but for ``seq`` and ``prev_hash``, which the append assigns
    under the log's lock. The disclosure id is made here unless the caller needs it first."""

    event: AuditEvent
    outcome: Outcome
    created_at: datetime
    disclosure_id: str = field(default_factory=new_disclosure_id)
    client_id: str | None = None
    agency_code: str | None = None
    agency_type: str | None = None
    purpose: str | None = None
    subject_key: str | None = None
    assessment_id: str | None = None
    assessment_version: int | None = None
    released: Sequence[str] = ()
    withheld: Sequence[WithheldField] = ()
    policy_revision: str | None = None
    decision_id: str | None = None
    body_sha256: str | None = None
    reason: str | None = None
    consent_status: str | None = None
    overrides: Sequence[Mapping[str, str]] = ()
    ig_review: bool = False
    consent_scope: Mapping[str, Any] | None = None
    subject_keys: Sequence[str] = ()  # every person a staff look-up showed; the first is subject_key
    interaction: str | None = None  # a pull: "read" (by id) or "search"
    network: str | None = None  # the address the request came from, as the gateway saw it
    # How many diagnostic-term warnings a publish was answered with (text bound for police or the CPS).
    diagnostic_term_warnings: int | None = None
    # What a disclosure rests on (see LogEntry.lawful_basis).
    lawful_basis: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class LogEntry:
    seq: int
    prev_hash: str
    disclosure_id: str
    event: str
    outcome: str
    created_at: datetime
    client_id: str | None = None
    agency_code: str | None = None
    agency_type: str | None = None
    purpose: str | None = None
    subject_key: str | None = None
    assessment_id: str | None = None
    assessment_version: int | None = None
    released: Sequence[str] = field(default=())
    withheld: Sequence[WithheldField] = field(default=())
    policy_revision: str | None = None
    decision_id: str | None = None
    body_sha256: str | None = None
    reason: str | None = None
    # Later additions: the consent status the decision saw, the lawful overrides it relied on
    # ({"id", "basis"}), and whether IG must review the disclosure.
    consent_status: str | None = None
    overrides: Sequence[Mapping[str, str]] = field(default=())
    ig_review: bool = False
    # The rest of the consent the decision saw, so IG staff read the consent as the person gave it beside
    # every reason that depends on it: {"recorded_on": date, "limited_to_agencies": [codes],
    # "limited_to_purposes": [purposes], "gillick_competent": bool | None, "best_interests_recorded": bool}.
    # No personal data: dates of consent, agency codes and purposes only.
    consent_scope: Mapping[str, Any] | None = None
    # Every person a staff look-up showed, as subject keys (``subject_key`` is the first, the one the
    # log is searched by). Written only when given, so entries without it keep their earlier form.
    subject_keys: Sequence[str] = field(default=())
    # How a pull asked ("read" by id, or "search") and the network address the request came from (the
    # AuditEvent export's agent.network). Written only when given, like ``subject_keys``.
    interaction: str | None = None
    network: str | None = None
    # A publish's diagnostic-term warnings (gateway.assessments.free_text): how many texts bound for
    # police or the CPS appeared to name a diagnosis. A count, never the text or the term. Written only
    # when the publish was screened, so every other entry keeps its earlier form.
    diagnostic_term_warnings: int | None = None
    # What a released disclosure rests on, as the policy named it (policies/data.json "lawful_bases"):
    # [{"basis", "statute"}] for consent, a best-interests decision or the process minimum, then one item
    # per lawful override relied on, which adds "override_id", "expires_at" (UTC) and "recorded_by_hmac" /
    # "reason_hmac" (commitments keyed by the subject's data key: gateway.overrides.commitment; the values
    # stay beside the log). Entries written before commitments carried "recorded_by" / "reason_sha256".
    # Also on an override's own recording entry. Written only when given, so entries
    # without it keep their earlier form.
    lawful_basis: Sequence[Mapping[str, Any]] = field(default=())

    @classmethod
    def of(cls, new: NewEntry, *, seq: int, prev_hash: str) -> LogEntry:
        values = {name: getattr(new, name) for name in _NEW_FIELDS}
        values.update(seq=seq, prev_hash=prev_hash, event=str(new.event), outcome=str(new.outcome))
        # Every field is given (a NewEntry has them all but these two: a test holds the two classes to
        # the same fields), so the frozen __init__'s assignment per field is skipped: on the append
        # path it cost more than serialising the entry.
        entry = object.__new__(cls)
        entry.__dict__.update(values)
        return entry

    def to_json(self) -> dict[str, Any]:
        # Field by field, not asdict(self): the same values, without deep-copying every one on the
        # hottest path (the nested values are rebuilt below either way).
        data = {name: getattr(self, name) for name in _LOG_FIELDS}
        if self.subject_keys:
            data["subject_keys"] = list(self.subject_keys)
        else:
            del data["subject_keys"]
        for optional in ("interaction", "network", "diagnostic_term_warnings"):
            if data[optional] is None:
                del data[optional]
        if self.lawful_basis:
            data["lawful_basis"] = [dict(b) for b in self.lawful_basis]
        else:
            del data["lawful_basis"]
        data["created_at"] = self.created_at.isoformat()
        data["released"] = list(self.released)
        data["withheld"] = [
            {name: getattr(w, name) for name in _WITHHELD_FIELDS} if isinstance(w, WithheldField) else dict(w)
            for w in self.withheld
        ]
        data["overrides"] = [dict(o) for o in self.overrides]
        data["consent_scope"] = None if self.consent_scope is None else dict(self.consent_scope)
        return data


# Field names, read once: the append path serialises every entry field by field.
_NEW_FIELDS = tuple(f.name for f in fields(NewEntry))
_LOG_FIELDS = tuple(f.name for f in fields(LogEntry))
_WITHHELD_FIELDS = tuple(f.name for f in fields(WithheldField))


@dataclass(frozen=True)
class Appended:
    """An entry now in the log (in the caller's transaction): where it stands and what it says."""

    entry: LogEntry
    leaf_hash: str

    @property
    def seq(self) -> int:
        return self.entry.seq

    @property
    def disclosure_id(self) -> str:
        return self.entry.disclosure_id
