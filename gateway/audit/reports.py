"""The subject access report: what the log says was shared about one person, with whom, why, on which
basis, and whether a clinician has signed off the serious-harm check before it is released to them.
Pure: it shapes :class:`gateway.audit.queries.DisclosureRecord` values and reads nothing else.

What was shared is told in the document's own terms, its sections (the field catalogue's categories:
"Risk and safeguarding", "Clinical"), never as field ids: the report is written for the person and
whoever helps them read it (DOMAIN.md "Subject access").

Counting. A *disclosure* is a document released (``disclosure:bundle:released``); a *refusal* is a pull
refused (``disclosure:bundle:denied``). Everything else the log holds about the person (publishes,
lawful overrides recorded, court requests, staff look-ups) is listed and counted by event, and is
neither: a publish is not a refusal because its outcome is not "released".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.assessments.catalogue import Catalogue
from gateway.audit.balp import HIDDEN_BASIS_KEYS
from gateway.audit.events import AuditEvent
from gateway.audit.queries import DisclosureRecord

#: The title a person reads for each catalogue category (the document's section where there is one).
CATEGORY_TITLES: Mapping[str, str] = {
    "identity": "Identity",
    "criminal-justice-identifier": "Criminal-justice identifiers",
    "health-identifier": "Health case reference",
    "assessment": "Assessment",
    "consent": "Consent",
    "vulnerability": "Vulnerability",
    "needs": "Needs and adjustments",
    "fitness": "Fitness",
    "diversion": "Diversion",
    "treatment": "Treatment requirements",
    "clinical": "Clinical",
    "risk": "Risk and safeguarding",
    "referrals": "Referrals and engagement",
    "third-party": "Third-party information",
}
OTHER = "Other"


@dataclass(frozen=True)
class SignOff:
    """A clinician's serious-harm check of a subject access report, recorded before it is released."""

    id: str
    clinician: str
    decision: str
    signed_at: datetime
    through_seq: int  # the last log entry the report held when it was checked
    disclosure_id: str  # the log entry recording the sign-off

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "clinician": self.clinician,
            "decision": self.decision,
            "signed_at": self.signed_at.isoformat(),
            "through_seq": self.through_seq,
            "disclosure_id": self.disclosure_id,
        }


def sections_of(catalogue: Catalogue) -> dict[str, str]:
    """Field id -> the section title a person reads it under."""
    return {f.id: CATEGORY_TITLES.get(f.category, f.category) for f in catalogue}


def _sections(field_ids: Iterable[str], sections: Mapping[str, str]) -> list[str]:
    return _order({sections.get(f, OTHER) for f in field_ids})


def _order(titles: set[str]) -> list[str]:
    """In the order the document has them."""
    order = {title: i for i, title in enumerate([*CATEGORY_TITLES.values(), OTHER])}
    return sorted(titles, key=lambda t: (order.get(t, len(order)), t))


def _entry(r: DisclosureRecord, sections: Mapping[str, str]) -> dict[str, Any]:
    return {
        "disclosure_id": r.disclosure_id,
        "seq": r.seq,
        "when": r.created_at.isoformat(),
        "event": r.event,
        "outcome": r.outcome,
        "recipient": {"agency_code": r.agency_code, "agency_type": r.agency_type, "client_id": r.client_id},
        "purpose": r.purpose,
        "assessment": {"id": r.assessment_id, "version": r.assessment_version} if r.assessment_id else None,
        "shared": _sections(r.released, sections),
        "withheld": _sections((w["field"] for w in r.withheld), sections),
        "basis": {
            "policy_revision": r.policy_revision,
            "consent_status": r.consent_status,
            "overrides": r.overrides,
            "lawful_basis": _lawful_basis(r.entry.get("lawful_basis")),
        },
        "reason": r.reason,
    }


def _lawful_basis(value: Any) -> Any:
    """The entry's lawful basis without what the requester is not given (an earlier entry's practitioner
    name and unkeyed reason hash: balp.HIDDEN_BASIS_KEYS)."""
    if not isinstance(value, list):
        return value
    return [
        {k: v for k, v in item.items() if k not in HIDDEN_BASIS_KEYS} if isinstance(item, Mapping) else item
        for item in value
    ]


def subject_report(
    records: Iterable[DisclosureRecord],
    sections: Mapping[str, str],
    *,
    sign_off: SignOff | None = None,
    events: Iterable[str] | None = None,
    last_seq: int = -1,
) -> dict[str, Any]:
    """The report, oldest entry first; ``events`` is the filter it was asked for (None: every event);
    ``last_seq`` the last entry of the whole report (what a sign-off must cover to be current)."""
    items = [_entry(r, sections) for r in records]
    released = [i for i in items if i["event"] == AuditEvent.BUNDLE_RELEASED]
    shared: set[str] = set()
    for i in released:
        shared.update(i["shared"])
    return {
        "events": None if events is None else sorted(events),
        "disclosures": len(released),
        "refusals": sum(1 for i in items if i["event"] == AuditEvent.BUNDLE_DENIED),
        "by_event": dict(sorted(Counter(i["event"] for i in items).items())),
        "recipients": sorted({i["recipient"]["agency_code"] for i in released if i["recipient"]["agency_code"]}),
        "shared": _order(shared),
        "sign_off": _sign_off(sign_off, last_seq),
        "entries": items,
    }


def _sign_off(sign_off: SignOff | None, last_seq: int) -> dict[str, Any]:
    """Whether the serious-harm check is done for the report as it now stands: a sign-off covers the
    entries up to the one it saw; a later entry needs a new check."""
    if sign_off is None:
        return {"signed_off": False, "current": False}
    return {"signed_off": True, "current": sign_off.through_seq >= last_seq, **sign_off.to_json()}
