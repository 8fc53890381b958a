"""FHIR routes: CapabilityStatement and the document bundles agencies pull."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from gateway import __version__
from gateway.api.context import gateway_of
from gateway.api.responses import FHIR_JSON, disclosure_response
from gateway.api.security import require_access
from gateway.audit.events import AuditEvent
from gateway.disclosure.service import DisclosureResult
from gateway.fhir import capability_statement, document_bytes, operation_outcome

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/metadata")
def metadata(request: Request) -> Response:
    gw = gateway_of(request)
    body = capability_statement(gw.settings.issuer.rstrip("/") + "/fhir", gw.settings.token_url, __version__)
    return Response(document_bytes(body), media_type=FHIR_JSON)


@router.get("/Bundle")
def search_bundles(request: Request) -> Response:
    ctx = require_access(request)
    gw = gateway_of(request)
    params = request.query_params
    unknown = sorted(set(params) - {"patient.identifier"})
    identifiers = params.getlist("patient.identifier")
    problems = [("error", "not-supported", f"search parameter {name} is not supported", name) for name in unknown]
    if len(identifiers) != 1 or "|" not in identifiers[0]:
        problems.append(
            ("error", "required", "give exactly one patient.identifier as SYSTEM|VALUE", "patient.identifier")
        )
    if problems:
        body = document_bytes(operation_outcome(problems))
        result = gw.disclosures.refuse(ctx, AuditEvent.BUNDLE_DENIED, "bad-search-parameter", 400, body)
        return disclosure_response(result)
    system, _, value = identifiers[0].partition("|")
    # The self link is built from the configured issuer, never the request's Host header, and leaves
    # the identifier out: response bytes carry only what the policy released.
    result = gw.disclosures.search(ctx, system, value, gw.settings.issuer.rstrip("/") + "/fhir/Bundle")
    _tell_publishers(request, result)
    return disclosure_response(result)


@router.get("/Bundle/{bundle_id}")
def read_bundle(bundle_id: str, request: Request) -> Response:
    ctx = require_access(request)
    result = gateway_of(request).disclosures.read(ctx, bundle_id)
    _tell_publishers(request, result)
    return disclosure_response(result)


def _tell_publishers(request: Request, result: DisclosureResult) -> None:
    """Issue 6: each released document is told to its publishing L&D service (after the commit; never raises)."""
    if result.status == 200:
        request.app.state.requests.on_disclosed(result.disclosure_ids)
