"""Render a projected assessment as a FHIR R4 document Bundle (plain dicts, no model objects).

**Build up, never strip down.** :func:`render_document` receives a *projection* (:class:`Projection`):
a mapping from catalogue field id to that field's value, holding only the fields the policy released
(and that are present), and the set of fields the decision released. It never sees the assessment.
Every resource, every narrative sentence and every sensitivity label is built from one projected field,
so a field that is not in the projection leaves no trace. What the renderer knows besides is the
decision (:class:`DocumentMeta`: which fields were withheld and by which rule, the obligations, whether
the subject is a minor today), never the content.

**Released means released.** What the document says *about* a field without its value ("nothing
recorded" in an area, who decided a consent when nobody did) is said only of a field in the projection's
released set and not withheld. A field the decision neither released nor withheld is withheld, for every
statement the document makes (its area's section, the Consent's performer, ``withheldCount``), and a
value projected for it is refused: absence from the withheld list is never taken for release.

Shape of the document (``tests/fhir`` is the executable version; docs/fhir-profiles.md the prose):

* ``Bundle`` ``type=document``; ``id`` = the address it is read at (``GET /fhir/Bundle/{id}``, the
  assessment id); ``identifier`` = ``urn:uuid:<disclosure id>``, unique to this disclosure (FHIR: a
  document's identifier never repeats); ``timestamp``; ``meta.security`` = the obligations
  (confidentiality, NORDSCLCD, NOREUSE), the sensitivity labels of the released fields, and ADOL when
  the subject is under 18 on the day of disclosure.
* ``Composition`` first: ``identifier`` = the assessment's version-independent id; ``status`` ``final``
  for version 1 and ``amended`` after, when ``relatesTo`` ``replaces`` the previous version
  (``ASSESSMENT_VERSION_SYSTEM`` ``<assessment id>/<n-1>``); the version in the R5 cross-version
  ``extension-Composition.version``; a local ``disclosure`` extension (recipient, purpose, number of
  withheld fields); one section per need area (:mod:`gateway.fhir.sections`: content, or
  ``emptyReason`` ``withheld`` from the decision alone).
* Entries: Patient, Organization (ODS code when the publisher has one), and per released field the
  resources of :mod:`gateway.fhir._needs`, :mod:`gateway.fhir._clinical` and
  :mod:`gateway.fhir._consent`; clinical resources are dated by the assessment.

Every ``fullUrl`` is ``urn:uuid:`` of a ``uuid5`` of the disclosure id and a fixed key: fresh for each
disclosure (no two recipients or versions share one) and deterministic (same input, same bytes).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from gateway.fhir import terminology as t
from gateway.fhir._builder import Doc
from gateway.fhir._identity import add_patient, add_publisher
from gateway.fhir._labels import security_labels
from gateway.fhir._meta import DocumentMeta, Projection, check_meta
from gateway.fhir._values import XHTML_NS, instant, prune
from gateway.fhir.sections import IDENTITY_FIELDS, RENDERED_FIELDS, SECTIONS, build_sections, withheld_areas
from gateway.json_bytes import compact_json, compact_json_floatless, has_float

__all__ = [
    "IDENTITY_FIELDS",
    "RENDERED_FIELDS",
    "SECTIONS",
    "XHTML_NS",
    "DocumentMeta",
    "Projection",
    "document_bytes",
    "render_document",
    "render_document_bytes",
    "withheld_areas",
]


def document_bytes(bundle: Mapping[str, Any]) -> bytes:
    """The exact bytes served and hashed: compact JSON, UTF-8, key order as built (NaN refused)."""
    return compact_json(bundle, allow_nan=False)


def render_document_bytes(
    projection: Projection,
    meta: DocumentMeta,
    labels: Mapping[str, Sequence[str]],
    *,
    id_keys: list[str] | None = None,
) -> bytes:
    """:func:`render_document`, as :func:`document_bytes` writes it: the bytes served and hashed.

    The renderer writes values from the projection, the metadata (strings and integers) and fixed
    terminology, so only the projection can bring a float into a document. When it holds none (the
    assessment schema has no numbers), the document is written by orjson straight away: the same
    bytes as json.dumps, without walking the document's thousands of nodes for floats first.
    """
    bundle = render_document(projection, meta, labels, id_keys=id_keys)
    return document_bytes(bundle) if has_float(projection) else compact_json_floatless(bundle)


def _composition(
    meta: DocumentMeta, doc: Doc, timestamp: str, confidentiality: str | None, withheld_count: int
) -> dict[str, Any]:
    version = meta.assessment_version
    return prune(
        {
            "resourceType": "Composition",
            "id": doc.uuid("Composition"),
            "extension": [
                {"url": t.COMPOSITION_VERSION_EXTENSION, "valueString": str(version)},
                {
                    "url": t.DISCLOSURE_EXTENSION,
                    "extension": [
                        {
                            "url": "recipient",
                            "valueIdentifier": {"system": t.AGENCY_CODE_SYSTEM, "value": meta.recipient_agency_code},
                        },
                        {
                            "url": "recipientType",
                            "valueCoding": {"system": t.AGENCY_TYPE_SYSTEM, "code": meta.recipient_agency_type},
                        },
                        {
                            "url": "purposeOfUse",
                            "valueCoding": {"system": t.PURPOSE_OF_USE_SYSTEM, "code": meta.purpose},
                        },
                        {"url": "withheldCount", "valueUnsignedInt": withheld_count},
                    ],
                },
            ],
            "identifier": {"system": t.ASSESSMENT_ID_SYSTEM, "value": meta.assessment_id},
            "status": "final" if version == 1 else "amended",
            "type": copy.deepcopy(t.DOCUMENT_TYPE),
            "subject": doc.patient_ref,
            "date": timestamp,
            "author": [doc.org_ref],
            "title": t.DOCUMENT_TITLE,
            "confidentiality": confidentiality,
            "custodian": doc.org_ref,
            "relatesTo": [
                {
                    "code": "replaces",
                    "targetIdentifier": {
                        "system": t.ASSESSMENT_VERSION_SYSTEM,
                        "value": f"{meta.assessment_id}/{version - 1}",
                    },
                }
            ]
            if version > 1
            else None,
            "section": build_sections(doc) or None,
        }
    )


def render_document(
    projection: Projection,
    meta: DocumentMeta,
    labels: Mapping[str, Sequence[str]],
    *,
    id_keys: list[str] | None = None,
) -> dict[str, Any]:
    """Render the released fields in ``projection`` as a FHIR R4 document Bundle (a plain dict).

    ``labels`` maps field id to the field's sensitivity labels (``PSY``, ``ETH``, ``SOC``); every
    projected field must have an entry (an empty one is fine), so a forgotten label cannot silently
    under-label a document. Unknown field ids, malformed values, unknown obligations or labels raise
    ``ValueError``: the caller must deny rather than send a document it could not build faithfully.
    ``id_keys``, when given, receives the key of every resource id the document holds (see
    :mod:`gateway.fhir.template`).

    ``projection`` must be a :class:`Projection` (a mapping that does not say what the decision released
    is refused, not read as "everything not withheld was released"); a value projected for a field the
    decision did not release, or also withheld, is refused.
    """
    unknown = sorted(set(projection) - RENDERED_FIELDS)
    if unknown:
        raise ValueError(f"projection has fields the renderer does not know: {unknown}")
    unlabelled = sorted(fid for fid in projection if fid not in labels)
    if unlabelled:
        raise ValueError(f"no sensitivity labels given for released fields: {unlabelled}")
    check_meta(meta)
    if not isinstance(projection, Projection):
        raise ValueError("the projection does not say which fields the decision released (a Projection is needed)")
    withheld_ids = {fid for fid, _ in meta.withheld}
    # Released only if the decision released it; withheld wins where a decision says both.
    released = frozenset(projection.released).difference(withheld_ids)
    unreleased = sorted(fid for fid in projection if fid not in released)
    if unreleased:
        raise ValueError(f"projection has values for fields the decision did not release: {unreleased}")
    # Every field the renderer knows that the decision did not release is withheld from this recipient:
    # those it left undecided are counted with those it withheld by a rule.
    undecided = RENDERED_FIELDS.difference(projection.released, withheld_ids)
    disclosure_uuid = str(uuid.UUID(meta.disclosure_id))
    timestamp = instant(meta.timestamp)
    security, confidentiality = security_labels(meta, projection, labels)

    doc = Doc(meta, projection, labels, released)
    add_patient(doc, projection)
    add_publisher(doc)
    composition = _composition(meta, doc, timestamp, confidentiality, len(meta.withheld) + len(undecided))
    entries = [{"fullUrl": "urn:uuid:" + composition["id"], "resource": composition}, *doc.entries]
    if id_keys is not None:
        id_keys.extend(doc.id_keys)
    return prune(
        {
            "resourceType": "Bundle",
            "id": meta.bundle_id,
            "meta": {"security": security} if security else None,
            "identifier": {"system": t.URI_SYSTEM, "value": "urn:uuid:" + disclosure_uuid},
            "type": "document",
            "timestamp": timestamp,
            "entry": entries,
        }
    )
