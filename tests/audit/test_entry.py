"""The typed append's entry: every event named in one enum, and the stored bytes exactly as before."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime

from gateway.audit.entry import CallerFields, LogEntry, NewEntry, WithheldField, caller_fields
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.rfc9162 import leaf_hash
from gateway.json_bytes import canonical_json as canonical_bytes

# This entry's leaf hash, taken from the stored form built field by field. It changes only when the
# stored format grows (a new optional key, null when absent), and then on purpose.
PINNED_LEAF = "6c5891491f608e6ed8d15f409dfb15756ab3ef63e33f467eb82d0e162ae36e7a"


def _new() -> NewEntry:
    return NewEntry(
        disclosure_id="5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10",
        event=AuditEvent.BUNDLE_RELEASED,
        outcome=Outcome.RELEASED,
        created_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        client_id="c1",
        agency_code="POL-NE",
        agency_type="police",
        purpose="charging",
        subject_key="cd" * 32,
        assessment_id="a1",
        assessment_version=2,
        released=("identity.name",),
        withheld=(WithheldField("clinical.diagnoses", "stage-charging", "not needed"),),
        policy_revision="sha256:" + "0" * 64,
        decision_id="d1",
        body_sha256="ef" * 32,
        consent_status="given",
        overrides=({"id": "o1", "basis": "safeguarding"},),
        ig_review=True,
    )


def test_a_typed_entry_stores_the_same_bytes_as_the_stored_form_built_by_hand():
    stored = LogEntry.of(_new(), seq=7, prev_hash="ab" * 32)
    by_hand = LogEntry(
        seq=7,
        prev_hash="ab" * 32,
        disclosure_id="5b0f7a1e-2c1d-4d8e-9a43-0c6f2b8d9e10",
        event="disclosure:bundle:released",
        outcome="released",
        created_at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        client_id="c1",
        agency_code="POL-NE",
        agency_type="police",
        purpose="charging",
        subject_key="cd" * 32,
        assessment_id="a1",
        assessment_version=2,
        released=("identity.name",),
        withheld=(WithheldField("clinical.diagnoses", "stage-charging", "not needed"),),
        policy_revision="sha256:" + "0" * 64,
        decision_id="d1",
        body_sha256="ef" * 32,
        consent_status="given",
        overrides=({"id": "o1", "basis": "safeguarding"},),
        ig_review=True,
    )
    assert canonical_bytes(stored.to_json()) == canonical_bytes(by_hand.to_json())
    assert leaf_hash(canonical_bytes(stored.to_json())).hex() == PINNED_LEAF
    assert stored.to_json()["event"] == "disclosure:bundle:released"
    assert type(stored.event) is str and type(stored.outcome) is str  # plain strings, as stored


def test_new_entries_and_stored_entries_have_the_same_fields():
    """A field added to one and not the other would fail at the first append; this says so sooner."""
    assert {f.name for f in fields(NewEntry)} == {f.name for f in fields(LogEntry)} - {"seq", "prev_hash"}


def test_a_new_entry_gets_its_own_disclosure_id_unless_given_one():
    first = NewEntry(event=AuditEvent.TOKEN_DENIED, outcome=Outcome.DENIED, created_at=datetime.now(UTC))
    second = NewEntry(event=AuditEvent.TOKEN_DENIED, outcome=Outcome.DENIED, created_at=datetime.now(UTC))
    assert first.disclosure_id != second.disclosure_id
    assert re.fullmatch(r"[0-9a-f-]{36}", first.disclosure_id)


def test_every_event_name_is_source_subject_action():
    for event in AuditEvent:
        assert re.fullmatch(r"[a-z]+:[a-z]+:[a-z-]+", event.value), event
    assert len({e.value for e in AuditEvent}) == len(AuditEvent)


def test_canonical_bytes_are_json_dumps_bytes():
    """Written by orjson (gateway.json_bytes, tested there for every code point), byte for byte what
    json.dumps with sorted keys writes: the form every stored entry has."""
    import json

    data = LogEntry.of(_new(), seq=7, prev_hash="ab" * 32).to_json()
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert canonical_bytes(data) == expected


def test_who_asked_is_recorded_the_same_way_by_every_writer() -> None:
    @dataclass(frozen=True)
    class Asker:
        client_id: str = "c-1"
        agency_code: str = "POL-NE"
        agency_type: str = "police"
        purpose: str = "custody"
        network: str | None = "192.0.2.7"

    assert set(CallerFields.__annotations__) <= {f.name for f in fields(NewEntry)}
    entry = NewEntry(
        event=AuditEvent.PUBLISH_ACCEPTED,
        outcome=Outcome.ACCEPTED,
        created_at=datetime(2026, 12, 6, tzinfo=UTC),
        **caller_fields(Asker()),
    )
    assert (entry.client_id, entry.agency_code, entry.agency_type, entry.purpose, entry.network) == (
        "c-1",
        "POL-NE",
        "police",
        "custody",
        "192.0.2.7",
    )
