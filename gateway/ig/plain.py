"""The IG pages in plain language: every code the log records, with its meaning.

Pages show the meaning first and keep the code itself in a ``<details>`` beside it (staff quote codes
to the service desk; readers need words). Each page ends with a glossary of the codes it showed, made
by a :class:`Glossary` that the templates fill as they render.

Also here: the consent as the person gave it (status, scope, date) in one sentence, and the fields of a
disclosure grouped by the sections of the document the agency received. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from gateway.fhir.document import IDENTITY_FIELDS, SECTIONS

EVENTS = {
    "disclosure:bundle:released": "Assessment shared with an agency",
    "disclosure:bundle:denied": "Request for an assessment refused",
    "auth:token:denied": "Sign-in of an agency's system refused",
    "ingest:assessment:denied": "Assessment from an L&D service refused",
    "ingest:assessment:published": "Assessment published by an L&D service",
    "ingest:assessment:imported": "Assessment imported from a case system",
    "ingest:override:recorded": "Lawful override recorded by an L&D service",
    "ingest:override:denied": "Lawful override from an L&D service refused",
    "audit:query:denied": "Look-up in the log refused",
    "audit:report:signed-off": "Subject access report signed off by a clinician (serious-harm check)",
    "request:task:created": "Court request made",
    "request:task:accepted": "Court request accepted by the L&D service",
    "request:task:rejected": "Court request declined by the L&D service",
    "request:task:completed": "Court request answered",
    "request:task:denied": "Court request refused",
    "request:events:denied": "Notification stream refused",
    "ig:staff:signin": "IG staff member signed in",
    "ig:staff:signin-failed": "IG sign-in failed",
    "ig:staff:locked": "IG account locked after failed sign-ins",
    "ig:staff:signout": "IG staff member signed out",
    "ig:staff:refused": "IG staff action refused (role)",
    "ig:disclosure:search": "IG staff searched the log for a person",
    "ig:disclosure:view": "IG staff opened a log entry",
    "ig:subject:report": "IG staff made a subject access report",
    "ig:log:verify": "IG staff verified the log",
    "ig:client:revoke": "IG staff revoked an agency's client",
    "ig:override:reviewed": "IG staff reviewed a lawful override",
    "identity:subject:merged": "Two records of one person merged",
    "identity:subject:unmerged": "A merge of records undone",
    "identity:subject:identity-accepted": "A family name or date of birth accepted as a person's (identity conflict)",
    "identity:subject:identifier-detached": "An identifier taken off a record it was wrongly on",
    "retention:subject:erased": "A person's records erased (retention period ended)",
    "admin:policy:activated": "Policy revision put in force",
}

OUTCOMES = {
    "released": "Shared",
    "denied": "Refused",
    "recorded": "Recorded (nothing shared)",
    "done": "Done",
    "accepted": "Accepted",
    "erased": "Erased",
    "activated": "Put in force",
}

# Why a whole request was refused. Several read the same to the agency on purpose (a 404 for a person
# it has no case with, as for a person nobody knows); the log keeps the real reason for IG.
REFUSALS = {
    "unknown-subject": "The gateway holds no record of this person.",
    "no-case-link": "This agency has no case with this person, so it may see nothing about them.",
    "no-assessment": "The L&D service has no current assessment of this person to share.",
    "unknown-bundle": "The document asked for does not exist (or not for this agency).",
    "policy-denied": "The sharing rules refused this request.",
    "purpose-not-permitted-for-agency-type": "This kind of agency may not ask for this purpose.",
    "child-subject-yot-not-probation": "The person is a child: the youth offending team works with them, "
    "not probation.",
    "adult-subject-not-yot": "The person is an adult: a youth offending team never receives an adult's record.",
    "nothing-to-share-without-consent": "Without the person's consent nothing may be shared with this agency "
    "for this purpose (no referral against the person's wishes).",
    "unknown-agency-type": "The agency's type is not one the sharing rules know.",
    "unknown-purpose": "The purpose given is not one the sharing rules know.",
    "unknown-age-group": "The person's age could not be placed (adult or child).",
    "undefined": "The sharing rules gave no answer, so the gateway refused (it fails closed).",
    "policy-error": "The sharing rules could not be evaluated, so the gateway refused (it fails closed).",
    "render-error": "The document could not be built, so nothing was sent.",
    "ambiguous-subject": "The identifiers given match more than one person, so nothing was sent.",
    "multiple-matches": "The identifiers given match more than one person, so nothing was sent.",
    "subject-mismatch": "The name or date of birth given does not match the person the identifier belongs to, "
    "so nothing was sent.",
    "identifier-unknown": "One of the identifiers given belongs to nobody on record, so nothing was sent.",
    "override-invalid": "The lawful override was not valid (its basis, recipients, expiry or reason): nothing "
    "was recorded.",
    "identity-conflict": "The identifier is on record for a person whose name or date of birth differ: nothing "
    "was stored, for an L&D administrator to resolve.",
}

PURPOSES = {
    "custody": "Police custody and interview (PACE)",
    "charging": "Charging decision",
    "case-management": "Managing the court case",
    "sentencing": "Sentencing",
    "health-referral": "Referral to health services",
    "ld-service": "The L&D service's own work",
}

AGENCY_TYPES = {
    "police": "police",
    "cps": "Crown Prosecution Service",
    "court": "court",
    "probation": "probation",
    "yot": "youth offending team",
    "health": "health provider",
    "ld-service": "L&D service",
}

CONSENT_STATUSES = {
    "given": "Given",
    "declined": "Declined",
    "withdrawn": "Withdrawn",
    "not-possible": "Not possible (the person lacked capacity to consent)",
}

# Why a field was withheld, in words that never state the consent: the page shows the consent on record
# (status, scope, date) beside every rule that turns on it, so the two can never contradict each other.
# A rule the policy adds later falls back to the reason the log recorded for it.
RULES = {
    "third-party-never-to-cjs": "Third-party and family information never goes to criminal justice agencies.",
    "clinical-never-to-police-cps": "Diagnoses and clinical detail never go to the police or the CPS.",
    "cj-identifiers-never-to-health": "Criminal justice identifiers and case references never go to health or "
    "social care: they would say the person has a record.",
    "health-case-reference-never-to-cjs": "A health agency's case reference goes to that agency only, never to "
    "criminal justice agencies.",
    "treatment-requirements-adults-only": "Community sentence treatment requirements are for adults only.",
    "youth-requirements-children-only": "Youth rehabilitation order requirements are for under-18s only.",
    "clinical-needs-consent": "Diagnoses and clinical detail go to this agency for this purpose only with the "
    "person's consent, and the consent on record does not cover this disclosure.",
    "override-minimised": "Shared without consent under a lawful override, which releases only the smallest "
    "set of fields for its basis.",
    "consent-declined-minimum": "The person declined consent: only the minimum needed for their safety and "
    "fair treatment is shared.",
    "consent-withdrawn-minimum": "The person withdrew consent: only the minimum needed for their safety and "
    "fair treatment is shared.",
    "consent-not-possible-minimum": "The person could not consent and no best-interests decision covers this "
    "purpose: only the minimum is shared.",
    "consent-not-recorded-minimum": "No valid consent is recorded: only the minimum is shared.",
    "child-consent-not-competent": "A child's own consent counts under 16 only if they were assessed as "
    "Gillick competent, and at 16-17 unless assessed as lacking capacity; no one with parental "
    "responsibility decided for them: only the minimum is shared.",
    "consent-by-another-for-adult": "The consent was given by a person with parental responsibility, but the "
    "person is now an adult and their consent is their own: only the minimum is shared.",
    "consent-limited-to-other-agency": "The person's consent covers other agencies, not this one: only the "
    "minimum is shared with it.",
    "consent-limited-to-other-purpose": "The person's consent covers other purposes, not this one: only the "
    "minimum is shared for it.",
    "not-needed-for-purpose": "Not needed by this agency for this purpose.",
}

#: What a clinician decided in a subject access report's serious-harm check (``audit.signoffs.DECISIONS``).
SIGN_OFF_DECISIONS = {
    "release": "release the report",
    "release-with-redactions": "release the report with redactions",
    "withhold": "withhold the report",
}

# Rules whose reason turns on the person's consent: the page shows the consent on record beside them.
CONSENT_RULES = frozenset(
    {
        "clinical-needs-consent",
        "consent-declined-minimum",
        "consent-withdrawn-minimum",
        "consent-not-possible-minimum",
        "consent-not-recorded-minimum",
        "child-consent-not-competent",
        "consent-by-another-for-adult",
        "consent-limited-to-other-agency",
        "consent-limited-to-other-purpose",
        "override-minimised",
    }
)

TERMS = {
    "policy revision": "Which version of the sharing rules made the decision (a fingerprint of the rules).",
    "fingerprint": "A SHA-256 hash: any change to what it covers changes it completely.",
    "signed checkpoint": "A signed statement of the whole log's size and fingerprint; any later change to "
    "an entry it covers is detectable.",
}


class Glossary:
    """The codes one page has shown, in order, each with its meaning (rendered at the foot of the page)."""

    def __init__(self, recorded_reasons: Mapping[str, str] | None = None) -> None:
        self.rules = {**(recorded_reasons or {}), **RULES}
        self.used: dict[str, str] = {}

    def meaning(self, kind: str, code: str | None) -> str:
        if not code:
            return ""
        table: Mapping[str, str] = {
            "event": EVENTS,
            "outcome": OUTCOMES,
            "refusal": REFUSALS,
            "purpose": PURPOSES,
            "agency_type": AGENCY_TYPES,
            "consent": CONSENT_STATUSES,
            "rule": self.rules,
        }[kind]
        text = table.get(code) or _unknown(kind, code)
        if kind != "agency_type":  # a word, not a code: nothing to explain at the foot of the page
            self.used.setdefault(code, text)
        return text

    def term(self, name: str) -> str:
        text = TERMS[name]
        self.used.setdefault(name, text)
        return text

    def entries(self) -> list[tuple[str, str]]:
        return list(self.used.items())


def _unknown(kind: str, code: str) -> str:
    if kind == "purpose":
        return code.replace("-", " ").capitalize()
    return f"Recorded as '{code}' (see docs/ig-pages.md for every code)."


@dataclass(frozen=True)
class Consent:
    """The consent a decision saw, as the person gave it."""

    status: str | None
    recorded_on: date | None
    agencies: tuple[str, ...]
    purposes: tuple[str, ...]
    gillick_competent: bool | None
    best_interests_recorded: bool
    scope_known: bool  # False for entries made before the log kept the scope


def consent_of(entry: Mapping[str, Any]) -> Consent | None:
    status = entry.get("consent_status")
    scope = entry.get("consent_scope")
    if status is None and not scope:
        return None
    scope = scope if isinstance(scope, Mapping) else {}
    recorded = scope.get("recorded_on")
    try:
        recorded_on = date.fromisoformat(recorded) if isinstance(recorded, str) else None
    except ValueError:
        recorded_on = None
    return Consent(
        status=status,
        recorded_on=recorded_on,
        agencies=tuple(scope.get("limited_to_agencies") or ()),
        purposes=tuple(scope.get("limited_to_purposes") or ()),
        gillick_competent=scope.get("gillick_competent"),
        best_interests_recorded=bool(scope.get("best_interests_recorded")),
        scope_known=bool(scope),
    )


def consent_sentence(consent: Consent | None, agency_names: Mapping[str, str]) -> str:
    """E.g. "Given on 21 Nov 2026, only for Northshire Police and Northshire Youth Offending Team"."""
    if consent is None or consent.status is None:
        return "No consent was recorded on the assessment."
    words = CONSENT_STATUSES.get(consent.status, consent.status)
    if consent.recorded_on:
        words += f" on {consent.recorded_on.strftime('%d %b %Y')}"
    limits = []
    if consent.agencies:
        limits.append("only for " + _and([agency_names.get(a, a) for a in consent.agencies]))
    if consent.purposes:
        limits.append("only for " + _and([PURPOSES.get(p, p).lower() for p in consent.purposes]))
    if limits:
        words += ", " + ", and ".join(limits)
    elif consent.scope_known and consent.status == "given":
        words += ", for every agency and purpose"
    if consent.gillick_competent is True:
        words += "; the child was assessed as Gillick competent"
    elif consent.gillick_competent is False:
        words += "; the child was assessed as not Gillick competent"
    if consent.best_interests_recorded:
        words += "; a best-interests decision is recorded"
    if not consent.scope_known:
        words += " (this entry predates the log keeping consent limits and dates)"
    return words + "."


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


IDENTITY_TITLE = "Identity"


def section_of() -> dict[str, str]:
    """Field id -> the title of the document section it appears in (what the agency's client prints)."""
    sections = {fid: IDENTITY_TITLE for fid in IDENTITY_FIELDS}
    for section in SECTIONS:
        for fid, _ in section.fields:
            sections[fid] = section.title
    return sections


SECTION_OF = section_of()
SECTION_ORDER = [IDENTITY_TITLE, *(s.title for s in SECTIONS)]


def by_section(field_ids: Iterable[str], titles: Mapping[str, str]) -> list[tuple[str, list[tuple[str, str]]]]:
    """``[(section title, [(field id, field title), ...]), ...]`` in the document's order; fields the
    document has no section for come last, under "Other"."""
    groups: dict[str, list[tuple[str, str]]] = {}
    order = {fid: i for i, fid in enumerate(titles)}
    for fid in sorted(field_ids, key=lambda f: order.get(f, len(order))):
        groups.setdefault(SECTION_OF.get(fid, "Other"), []).append((fid, titles.get(fid, fid)))
    ranked = {title: i for i, title in enumerate([*SECTION_ORDER, "Other"])}
    return sorted(groups.items(), key=lambda item: ranked.get(item[0], len(ranked)))
