"""Inbound FHIR documents (``POST /fhir/Bundle``): a FHIR R4 document Bundle mapped to a canonical
assessment, read from its structured entries only. Pure: knows nothing of the database or HTTP.

Any FHIR stack can produce an accepted document; ``docs/fhir-inbound.md`` is the profile (which
resource, code and system carries which canonical value). The document the gateway itself renders
for its publisher (``gateway.fhir.examples.publishable_document``) is one such document.

**Narrative is for people.** Section and resource ``text`` is never read for values: a value exists
only in an element that carries it, so what the gateway stores is exactly what a FHIR reader of the
entries sees.

**Nothing is silently dropped.** Every element is either read or refused: the readers mark what they
read, and each element nobody read is named in the refusal (FHIRPath-like, e.g.
``Bundle.entry[3].resource.code.coding[1]``). Elements the gateway derives itself (ids, ``fullUrl``,
``meta``, narrative, codings' ``display``, effective times, the Composition's version and disclosure
extensions) are read and ignored.

Modules: :mod:`.reader` (reading with a record of what was read), :mod:`.profile` (codes and systems),
one reader module per concern (:mod:`.identity`, :mod:`.findings`, :mod:`.clinical`,
:mod:`.referrals`, :mod:`.consent`, :mod:`.composition`), :mod:`.mapping` (the orchestration),
:mod:`.locate` (the canonical validation's problems moved onto the document's elements) and :mod:`.errors`.
"""

from __future__ import annotations

from gateway.fhir.inbound.errors import InboundError
from gateway.fhir.inbound.mapping import Inbound, map_document
from gateway.fhir.inbound.profile import LOCAL_REFERENCE_SYSTEM

__all__ = ["LOCAL_REFERENCE_SYSTEM", "Inbound", "InboundError", "map_document"]
