"""Who the document is about and who wrote it: the Patient and the publishing Organization."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc
from gateway.fhir._values import mapped, objs, prune, text, texts
from gateway.fhir.sections import CASE_REFERENCE_FIELDS, IDENTITY_FIELDS


def add_patient(doc: Doc, projection: Mapping[str, Any]) -> None:
    """The Patient, from the released identity fields only; case references become identifiers, one
    system per agency, so ``patient.identifier`` search works for them too."""
    identifiers: list[dict[str, Any]] = []
    for fid, system in t.IDENTIFIER_SYSTEMS.items():
        if (value := text(projection.get(fid))) is not None:
            identifiers.append(
                prune(
                    {
                        "use": "official" if fid == "identity.nhs_number" else None,
                        "system": system,
                        "value": value,
                    }
                )
            )
    for fid, kind in CASE_REFERENCE_FIELDS.items():
        for link in objs(projection[fid], fid) if fid in projection else ():
            agency = text(link.get("agency_code"))
            reference = text(link.get("case_reference"))
            if agency is None or reference is None:
                continue
            identifiers.append(
                {
                    "use": "secondary",
                    "type": {"text": kind},
                    "system": t.case_reference_system(agency),
                    "value": reference,
                    "assigner": {"identifier": {"system": t.AGENCY_CODE_SYSTEM, "value": agency}, "display": agency},
                }
            )
    names: list[dict[str, Any]] = []
    if "identity.name" in projection:
        for name in objs(projection["identity.name"], "identity.name"):
            use = text(name.get("use"))
            human = prune(
                {
                    "use": mapped(use, t.NAME_USE, "identity.name") if use else None,
                    "family": text(name.get("family")),
                    "given": texts(name.get("given")) or None,
                }
            )
            if "family" in human or "given" in human:
                names.append(human)
    doc.add(
        "Patient",
        {
            "resourceType": "Patient",
            "identifier": identifiers or None,
            "name": names or None,
            "birthDate": text(projection.get("identity.date_of_birth")),
        },
        *(fid for fid in IDENTITY_FIELDS if fid in projection),
        profile=t.UKCORE_PROFILE.get("Patient"),
    )


def add_publisher(doc: Doc) -> None:
    """The publishing L&D service: its ODS code when it has one (an NHS organisation), and always the
    gateway's local agency code (what case links and consent scopes name)."""
    meta = doc.meta
    identifiers = [{"system": t.AGENCY_CODE_SYSTEM, "value": meta.publisher_code}]
    if meta.publisher_ods_code:
        identifiers.insert(0, {"system": t.ODS_ORGANISATION_SYSTEM, "value": meta.publisher_ods_code})
    doc.add(
        "Organization/publisher",
        {"resourceType": "Organization", "identifier": identifiers, "name": meta.publisher_name},
        profile=t.UKCORE_PROFILE.get("Organization"),
    )
