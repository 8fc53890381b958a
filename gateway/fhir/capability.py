"""The CapabilityStatement served at ``GET /fhir/metadata``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.fhir.terminology import OAUTH_URIS_EXTENSION, RESTFUL_SECURITY_SERVICE_SYSTEM

#: When the content of this statement last changed (CapabilityStatement.date is required). A fixed
#: date keeps ``/metadata`` byte-stable between requests and processes; bump it when this file changes.
CAPABILITY_DATE = "2026-12-06"


def capability_statement(
    base_url: str, token_url: str, software_version: str, purposes: Sequence[str] = ()
) -> dict[str, Any]:
    """An R4 CapabilityStatement for this gateway instance; ``purposes`` are the purposes of use a
    reading client may state (the authorization server's vocabulary).

    Security is SMART on FHIR (Backend Services: signed-JWT client credentials), so the oauth-uris
    extension names the token endpoint only; there is no ``authorize`` endpoint to advertise.
    """
    resources: list[dict[str, Any]] = [
        {
            "type": "Bundle",
            "documentation": (
                "Liaison and Diversion assessment summaries as FHIR document Bundles, filtered to what the "
                "caller's agency may see for its purpose of use. Every response carries X-Disclosure-Id. "
                "L&D services create (publish) assessments by posting a document Bundle; Idempotency-Key honoured."
            ),
            "interaction": [{"code": "read"}, {"code": "search-type"}, {"code": "create"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "searchParam": [
                {
                    "name": "composition",
                    "definition": "http://hl7.org/fhir/SearchParameter/Bundle-composition",
                    "type": "reference",
                    "documentation": (
                        "Only chained to the subject's identifier: composition.patient.identifier=SYSTEM|VALUE "
                        "(e.g. https://fhir.nhs.uk/Id/nhs-number|9000000009; also PNC ID and the caller's case "
                        "references), exactly one. patient.identifier is accepted as an alias. Also by POST to "
                        "Bundle/_search with a form body. Results never include a total."
                    ),
                },
                {
                    "name": "_count",
                    "type": "number",
                    "documentation": "At most this many documents (1-100), the newest; there is no paging.",
                },
                {"name": "_format", "type": "token", "documentation": "json only (406 otherwise)."},
            ],
        }
    ]
    resources.append(
        {
            "type": "Task",
            "documentation": "Real-time requests for assessment information (courts, partner agencies).",
            "interaction": [{"code": "create"}, {"code": "read"}, {"code": "patch"}, {"code": "search-type"}],
            "versioning": "no-version",
            "readHistory": False,
            "updateCreate": False,
            "searchParam": [{"name": "status", "type": "token", "documentation": "The queue of requests by status."}],
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "name": "LDGatewayCapabilityStatement",
        "title": "Liaison and Diversion information-sharing gateway",
        "status": "active",
        "experimental": False,
        "date": CAPABILITY_DATE,
        "kind": "instance",
        "software": {"name": "ld-gateway", "version": software_version},
        "implementation": {"description": "Liaison and Diversion information-sharing gateway", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "extension": [
                        {
                            "url": OAUTH_URIS_EXTENSION,
                            "extension": [{"url": "token", "valueUri": token_url}],
                        }
                    ],
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": RESTFUL_SECURITY_SERVICE_SYSTEM,
                                    "code": "SMART-on-FHIR",
                                    "display": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": (
                        "OAuth 2.0 client credentials with a signed JWT client assertion (SMART Backend "
                        "Services) and a stated purpose_of_use"
                        + (f" ({', '.join(purposes)})" if purposes else "")
                        + "; access tokens live at most 300 seconds."
                    ),
                },
                "resource": resources,
            }
        ],
    }
