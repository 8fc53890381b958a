"""The Composition: the publishing service's record reference (``local_reference``), the author, and
sections that only organise the entries (their narrative is for people and is not read)."""

from __future__ import annotations

from gateway.fhir import terminology as t
from gateway.fhir.document import SECTIONS
from gateway.fhir.inbound import profile as p
from gateway.fhir.inbound.identity import agency_code
from gateway.fhir.inbound.reader import Node, Reading

_SECTION_CODES = frozenset(s.code for s in SECTIONS)
_DOCUMENT_TYPE_CODE = "11488-4"  # LOINC Consult note, as t.DOCUMENT_TYPE
#: Extensions the gateway writes on the way out and assigns itself on the way in.
_OWN_EXTENSIONS = frozenset({t.COMPOSITION_VERSION_EXTENSION, t.DISCLOSURE_EXTENSION})


def composition(r: Reading, c: Node) -> None:
    for ext in c.items("extension"):
        if ext.get("url") in _OWN_EXTENSIONS:
            ext.mark()  # the gateway numbers versions; a disclosure extension describes a past disclosure
    identifier = c.child("identifier")
    system = identifier.get("system") if identifier else None
    value = identifier.get("value") if identifier else None
    if identifier is None or system != p.LOCAL_REFERENCE_SYSTEM or not isinstance(value, str):
        r.problem(
            "required",
            f"Composition.identifier gives the service's own record reference under {p.LOCAL_REFERENCE_SYSTEM}",
            f"{c.expr}.identifier",
        )
    else:
        identifier.ignore("system", "use")
        r.put(r.doc, "local_reference", identifier.raw("value"), f"{identifier.expr}.value", "local_reference")
    if c.raw("status") not in ("final", "amended"):
        r.problem("value", "Composition.status must be final or amended", f"{c.expr}.status")
    if c.coding("type") != (t.LOINC_SYSTEM, _DOCUMENT_TYPE_CODE):
        r.problem("code-invalid", "Composition.type must be LOINC 11488-4", f"{c.expr}.type")
    c.ignore("date", "title", "confidentiality", "relatesTo")
    r.subject(c)
    for author in c.items("author"):
        org = r.resolve(author, ("Organization",))
        if org is not None and r.author_code is None:
            r.author_code = agency_code(org)
            r.author_at = f"{org.expr}.identifier"
    r.resolve(c.child("custodian"), ("Organization",))
    r.resolve(c.child("encounter"), ("Encounter",))
    seen: set[str] = set()
    for section in c.items("section"):
        section.ignore("title", "text", "emptyReason", "mode", "orderedBy")
        system, code = section.coding("code")
        if system != t.SECTION_SYSTEM or code not in _SECTION_CODES or code in seen:
            r.problem("code-invalid", "not a known section code, or a section given twice", f"{section.expr}.code")
            continue
        seen.add(code)
        for item in section.items("entry"):
            item.ignore("display")
            reference = item.raw("reference")
            if not isinstance(reference, str) or reference not in r.resources:
                r.problem("invalid", "section entries reference resources in the document", item.expr)
