"""A document an L&D service could publish (``POST /fhir/Bundle``), rendered from a canonical example:
the body example of the API description, and so always one the gateway accepts."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gateway.assessments.catalogue import Catalogue, resolve_pointer
from gateway.fhir.document import DocumentMeta, render_document
from gateway.fhir.inbound import LOCAL_REFERENCE_SYSTEM

EXAMPLE_ID = "00000000-0000-4000-8000-000000000000"


def publishable_document(assessment: Mapping[str, Any], catalogue: Catalogue, publisher_code: str) -> dict[str, Any]:
    """Every field of ``assessment`` as a document authored by ``publisher_code``, naming the service's
    own record reference (``local_reference``) as a publisher's document does."""
    projection = {f.id: v for f in catalogue if (v := resolve_pointer(assessment, f.pointer)) is not None}
    meta = DocumentMeta(
        bundle_id=EXAMPLE_ID,
        disclosure_id=EXAMPLE_ID,
        assessment_id=EXAMPLE_ID,
        assessment_version=1,
        timestamp=datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
        publisher_name="Northshire Liaison and Diversion Service",
        publisher_code=publisher_code,
        recipient_agency_code=publisher_code,
        recipient_agency_type="ld-service",
        purpose="ld-service",
        obligations=(),
        withheld_count=0,
    )
    bundle = render_document(projection, meta, {f.id: f.labels for f in catalogue})
    bundle["entry"][0]["resource"]["identifier"] = {
        "system": LOCAL_REFERENCE_SYSTEM,
        "value": str(assessment.get("local_reference", "example")),
    }
    return bundle
