"""The person's consent to sharing, as a FHIR Consent in the R4 idiom.

A refusal (declined or withdrawn) is an *active* Consent whose provision denies: the person's directive
is in force and says no (``status = rejected`` would mean the consent record itself was rejected by a
party). Consent given is active with a permitting provision whose actors and purposes are the scope the
person gave, when they limited it. "Not possible" (the person lacks capacity) is no directive at all:
``inactive``, without a provision. The exact canonical status rides in the consent-status extension.

Who decided (``Consent.performer``) is part of the field ``consent.given_by`` and is said only where
the decision released that field: the person who decided for them when it is in the projection, the
person themselves when it was released and is empty. Where it is withheld there is no performer, for an
adult as for a child: naming the person on some documents and nobody on others would tell the reader
which ones someone else decided, and that another decided is family and capacity information
(docs/decisions.md, "Who decided a consent"). "Released" is the decision's released set: a field the
decision left undecided is withheld here too (taking it for released and empty said that a child whose
mother decided had decided themselves).
"""

from __future__ import annotations

from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc
from gateway.fhir._needs import Part
from gateway.fhir._values import mapped, obj, p, prune, text, texts, ul

GIVEN_BY = "consent.given_by"


def _related_person(doc: Doc) -> dict[str, str]:
    """The person with parental responsibility who decided, added once (from ``consent.given_by``)."""
    if (ref := doc.added("RelatedPerson/consent")) is not None:
        return ref
    person = obj(doc.projection[GIVEN_BY], GIVEN_BY)
    name, relationship = text(person.get("name")), text(person.get("relationship"))
    return doc.add(
        "RelatedPerson/consent",
        {
            "resourceType": "RelatedPerson",
            "patient": doc.patient_ref,
            "relationship": [{"text": relationship}] if relationship else None,
            "name": [{"text": name}] if name else None,
        },
        GIVEN_BY,
        profile=t.UKCORE_PROFILE.get("RelatedPerson"),
    )


def _performer(doc: Doc) -> list[dict[str, str]] | None:
    # Built from the released field alone, never from the rule that withheld something else (the
    # withheld rules say why consent did not count, which is what the recipient must not learn here).
    if GIVEN_BY in doc.projection:  # projected only when released (render_document refuses it otherwise)
        return [_related_person(doc)]
    if GIVEN_BY in doc.released:
        return [doc.patient_ref]  # released and empty: nobody decided for the person
    return None  # withheld, or not decided at all: nothing said


def _provision(status: str, agencies: list[str], purposes: list[str]) -> dict[str, Any] | None:
    kind = t.CONSENT_PROVISION.get(status)
    if kind != "permit":
        return {"type": kind} if kind else None
    return prune(
        {
            "type": "permit",
            "actor": [
                {
                    "role": {
                        "coding": [
                            {
                                "system": t.PARTICIPATION_TYPE_SYSTEM,
                                "code": "IRCP",
                                "display": "information recipient",
                            }
                        ]
                    },
                    "reference": {"identifier": {"system": t.AGENCY_CODE_SYSTEM, "value": a}, "display": a},
                }
                for a in agencies
            ]
            or None,
            "purpose": [{"system": t.PURPOSE_OF_USE_SYSTEM, "code": purpose} for purpose in purposes] or None,
        }
    )


def consent(doc: Doc, fid: str, value: Any) -> Part:
    given = obj(value, fid)
    status = text(given.get("status"))
    if status is None:
        raise ValueError(f"{fid}: status is required")
    state = mapped(status, t.CONSENT_STATE, fid)
    recorded = text(given.get("recorded_at"))
    agencies = texts(given.get("limited_to_agencies"))
    purposes = texts(given.get("limited_to_purposes"))
    parts = [p("Consent to sharing", t.CONSENT_LABEL[status])]
    if recorded:
        parts.append(p("Recorded", recorded))
    if agencies:
        parts.append(ul("Limited to agencies", agencies))
    if purposes:
        parts.append(ul("Limited to purposes", purposes))
    ref = doc.add(
        "Consent/sharing",
        {
            "resourceType": "Consent",
            "extension": [
                {
                    "url": t.CONSENT_STATUS_EXTENSION,
                    "valueCoding": {
                        "system": t.CONSENT_STATUS_SYSTEM,
                        "code": status,
                        "display": t.CONSENT_LABEL[status],
                    },
                }
            ],
            "status": state,
            "scope": {
                "coding": [{"system": t.CONSENT_SCOPE_SYSTEM, "code": "patient-privacy", "display": "Privacy Consent"}]
            },
            "category": [
                {"coding": [{"system": t.LOINC_SYSTEM, "code": "64292-6", "display": "Release of information consent"}]}
            ],
            "patient": doc.patient_ref,
            "dateTime": recorded,
            "performer": _performer(doc),
            "organization": [doc.org_ref],
            "policyRule": {"text": "Liaison and Diversion information sharing with the person's consent"},
            "provision": _provision(status, agencies, purposes),
        },
        fid,
        profile=t.UKCORE_PROFILE.get("Consent"),
    )
    return parts, [ref]


def given_by(doc: Doc, fid: str, value: Any) -> Part:
    person = obj(value, fid)
    name, relationship = text(person.get("name")), text(person.get("relationship"))
    parts = []
    if name:
        parts.append(p("Consent decided by a person with parental responsibility", name))
    if relationship:
        parts.append(p("Relationship to the child", relationship))
    if not parts:
        return [], []
    return parts, [_related_person(doc)]
