"""FHIR routes: CapabilityStatement and the document bundles agencies pull."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.api.responses import FHIR_JSON, disclosure_response
from gateway.api.security import require_access
from gateway.audit.events import AuditEvent
from gateway.auth.errors import OAuthError
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.router import read_form
from gateway.context import gateway_of
from gateway.disclosure.service import DisclosureResult
from gateway.fhir import capability_statement, document_bytes, operation_outcome
from gateway.fhir.search import BundleSearch, parse_bundle_search

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/metadata")
def metadata(request: Request) -> Response:
    gw = gateway_of(request)
    body = capability_statement(gw.settings.issuer.rstrip("/") + "/fhir", gw.settings.token_url, __version__)
    return Response(document_bytes(body), media_type=FHIR_JSON)


@router.get("/Bundle")
def search_bundles(request: Request) -> Response:
    ctx = require_access(request)
    return _search(request, ctx, list(request.query_params.multi_items()))


@router.post("/Bundle/_search")
async def search_bundles_by_post(request: Request) -> Response:
    """FHIR search by POST (R4 section 3.1.1.1, "search-type"): the parameters in a form body (and any
    in the query string, as FHIR allows), so that no identifier need appear in a URL."""
    ctx = await run_in_threadpool(require_access, request)
    try:
        form = await read_form(request)
    except OAuthError as exc:
        issue = ("error", "structure", f"{exc.description} (application/x-www-form-urlencoded)", None)
        body = document_bytes(operation_outcome([issue]))
        refused = gateway_of(request).disclosures.refuse
        result = await run_in_threadpool(refused, ctx, AuditEvent.BUNDLE_DENIED, "bad-search-form", 400, body)
        return disclosure_response(result)
    params = list(request.query_params.multi_items()) + list(form.items())
    return await run_in_threadpool(_search, request, ctx, params)


def _search(request: Request, ctx: AccessContext, params: list[tuple[str, str]]) -> Response:
    gw = gateway_of(request)
    parsed = parse_bundle_search(params)
    if not isinstance(parsed, BundleSearch):
        status, problems = parsed
        body = document_bytes(operation_outcome(problems))
        result = gw.disclosures.refuse(ctx, AuditEvent.BUNDLE_DENIED, "bad-search-parameter", status, body)
        return disclosure_response(result)
    # The self link is built from the configured issuer, never the request's Host header, and leaves
    # the identifier out: response bytes carry only what the policy released.
    result = gw.disclosures.search(
        ctx, parsed.system, parsed.value, gw.settings.issuer.rstrip("/") + "/fhir/Bundle", limit=parsed.count
    )
    _tell_publishers(request, result)
    return disclosure_response(result)


@router.get("/Bundle/{bundle_id}")
def read_bundle(bundle_id: str, request: Request) -> Response:
    ctx = require_access(request)
    result = gateway_of(request).disclosures.read(ctx, bundle_id)
    _tell_publishers(request, result)
    return disclosure_response(result)


def _tell_publishers(request: Request, result: DisclosureResult) -> None:
    """Each released document is told to its publishing L&D service (after the commit; never raises)."""
    if result.status == 200:
        request.app.state.requests.on_disclosed(result.disclosure_ids)
