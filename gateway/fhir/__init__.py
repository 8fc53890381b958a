"""Rendering (projected) assessments as FHIR R4; CapabilityStatement, OperationOutcome, searchsets.

Knows nothing of the database or HTTP: everything here takes plain values and returns dicts/bytes.
"""

from gateway.fhir.capability import capability_statement
from gateway.fhir.document import (
    RENDERED_FIELDS,
    DocumentMeta,
    Projection,
    document_bytes,
    render_document,
    render_document_bytes,
)
from gateway.fhir.outcome import Issue, operation_outcome, single_issue
from gateway.fhir.searchset import searchset_bytes
from gateway.fhir.terminology import IDENTIFIER_SYSTEMS, NHS_NUMBER_SYSTEM, case_reference_system

__all__ = [
    "IDENTIFIER_SYSTEMS",
    "NHS_NUMBER_SYSTEM",
    "RENDERED_FIELDS",
    "DocumentMeta",
    "Issue",
    "Projection",
    "capability_statement",
    "case_reference_system",
    "document_bytes",
    "operation_outcome",
    "render_document",
    "render_document_bytes",
    "searchset_bytes",
    "single_issue",
]
