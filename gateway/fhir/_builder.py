"""Collecting one document's entries: ids, references, labels, effective times.

Every resource id is ``uuid5`` of the disclosure id and a fixed local key (never a value): the same
disclosure renders the same bytes, and no two disclosures share an id, so police's and health's views
of one assessment, or versions 1 and 2, can never be confused by a client that stores resources by id.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gateway.fhir import terminology as t
from gateway.fhir._values import prune, text, unique

if TYPE_CHECKING:
    from gateway.fhir._meta import DocumentMeta

_UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, t.LOCAL_BASE + "/Bundle")
_NAMESPACE_BYTES = _UUID_NAMESPACE.bytes


def uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(namespace, name))`` for this module's namespace, without building UUID objects
    (RFC 9562 section 5.5: SHA-1 of namespace and name, version 5, the RFC variant); a document has
    dozens of these, and the objects cost more than the hash."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8"), usedforsecurity=False).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Doc:
    """The entries of one document being built, and what every renderer may read about it."""

    def __init__(
        self,
        meta: DocumentMeta,
        projection: Mapping[str, Any],
        labels: Mapping[str, Sequence[str]],
        released: frozenset[str],
    ) -> None:
        self.meta = meta
        self.projection = projection
        self.labels = labels
        #: The rule that withheld each withheld field (what "not applicable" is said from).
        self.withheld: dict[str, str] = dict(meta.withheld)
        #: The fields the decision released and did not also withhold: the only ones the document says
        #: anything about. Not "every field not in ``withheld``": a field in neither is withheld.
        self.released = released
        self.entries: list[dict[str, Any]] = []
        self._added: dict[str, dict[str, str]] = {}
        self._uuids: dict[str, str] = {}
        context = projection.get("assessment.context")
        # Clinical resources are dated by the assessment they come from; the date travels only when the
        # assessment context itself was released (it is in every recipient's minimum).
        self.effective: str | None = text(context.get("assessed_at")) if isinstance(context, Mapping) else None

    @property
    def patient_ref(self) -> dict[str, str]:
        return {"reference": self.url("Patient")}

    @property
    def org_ref(self) -> dict[str, str]:
        return {"reference": self.url("Organization/publisher"), "display": self.meta.publisher_name}

    def url(self, key: str) -> str:
        return "urn:uuid:" + self.uuid(key)

    def uuid(self, key: str) -> str:
        found = self._uuids.get(key)
        if found is None:
            found = self._uuids[key] = uuid5_text(f"{self.meta.disclosure_id}/{key}")
        return found

    @property
    def id_keys(self) -> list[str]:
        """The keys of every resource id made so far."""
        return list(self._uuids)

    def added(self, key: str) -> dict[str, str] | None:
        """The Reference to the resource already added under ``key``, if any."""
        return self._added.get(key)

    def add(self, key: str, resource: dict[str, Any], *field_ids: str, profile: str | None = None) -> dict[str, str]:
        """Add a resource built from ``field_ids`` under ``key``; returns the Reference to it.

        The resource carries the sensitivity labels of the fields it was built from, and ``profile``
        (a UK Core profile it conforms to) in ``meta.profile``.
        """
        rid = self.uuid(key)
        body: dict[str, Any] = {"resourceType": resource.pop("resourceType"), "id": rid}
        codes = unique(code for fid in field_ids for code in self.labels[fid])
        meta = prune(
            {
                "profile": [profile] if profile else None,
                "security": [t.sensitivity_coding(code) for code in codes] or None,
            }
        )
        if meta:
            body["meta"] = meta
        body.update(prune(resource))
        self.entries.append({"fullUrl": "urn:uuid:" + rid, "resource": body})
        ref = {"reference": "urn:uuid:" + rid}
        self._added[key] = ref
        return ref


def flag(doc: Doc, key: str, field_id: str, code: str, category: str, detail: str | None = None) -> dict[str, str]:
    concept = t.finding(code)
    if detail:
        concept["text"] = f"{concept['text']} ({detail})"
    return doc.add(
        key,
        {
            "resourceType": "Flag",
            "status": "active",
            "category": [
                {
                    "coding": [
                        {
                            "system": t.FLAG_CATEGORY_SYSTEM,
                            "code": category,
                            "display": t.FLAG_CATEGORY_DISPLAY[category],
                        }
                    ]
                }
            ],
            "code": concept,
            "subject": doc.patient_ref,
            "period": {"start": doc.effective} if doc.effective else None,
            "author": doc.org_ref,
        },
        field_id,
        profile=t.UKCORE_PROFILE.get("Flag"),
    )


def observation(doc: Doc, key: str, field_ids: Sequence[str], code: str, **elements: Any) -> dict[str, str]:
    return doc.add(
        key,
        {
            "resourceType": "Observation",
            "status": "final",
            "code": t.finding(code),
            "subject": doc.patient_ref,
            "effectiveDateTime": doc.effective,
            "performer": [doc.org_ref],
            **elements,
        },
        *field_ids,
        profile=t.UKCORE_PROFILE.get("Observation"),
    )


def data_absent(code: str) -> dict[str, Any]:
    return {"coding": [{"system": t.DATA_ABSENT_REASON_SYSTEM, "code": code, "display": t.DATA_ABSENT_DISPLAY[code]}]}
