"""FHIR routes: CapabilityStatement and the document bundles agencies pull."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway import __version__
from gateway.api.responses import FHIR_JSON, disclosure_response
from gateway.api.security import deferred_replay, replayed_response, require_access
from gateway.audit.events import AuditEvent
from gateway.auth.deferred_replay import DeferredReplay, ProofReplayed
from gateway.auth.endpoints.forms import read_form
from gateway.auth.errors import OAuthError
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import READING_PURPOSES, Purpose
from gateway.context import gateway_of
from gateway.disclosure.service import SEARCH
from gateway.fhir import capability_statement, document_bytes, operation_outcome
from gateway.fhir.search import BundleSearch, parse_bundle_search
from gateway.issue import Issue

router = APIRouter(prefix="/fhir", tags=["fhir"])


@router.get("/metadata")
def metadata(request: Request) -> Response:
    gw = gateway_of(request)
    body = capability_statement(
        gw.settings.issuer.rstrip("/") + "/fhir",
        gw.settings.token_url,
        __version__,
        purposes=[p.value for p in Purpose if p in READING_PURPOSES],
    )
    return Response(document_bytes(body), media_type=FHIR_JSON)


@router.get("/Bundle")
def search_bundles(request: Request) -> Response:
    # The DPoP proof's replay claim is made in the disclosure's own write transaction.
    replay = deferred_replay(request)
    ctx = require_access(request, replay=replay)
    return _search(request, ctx, list(request.query_params.multi_items()), replay)


@router.post("/Bundle/_search")
async def search_bundles_by_post(request: Request) -> Response:
    """FHIR search by POST (R4 section 3.1.1.1, "search-type"): the parameters in a form body (and any
    in the query string, as FHIR allows), so that no identifier need appear in a URL."""
    replay = deferred_replay(request)
    ctx = await run_in_threadpool(lambda: require_access(request, replay=replay))
    try:
        form = await read_form(request)
    except OAuthError as exc:
        issue = Issue("structure", f"{exc.description} (application/x-www-form-urlencoded)")
        body = document_bytes(operation_outcome([issue]))
        refused = gateway_of(request).disclosures.refuse

        def refuse() -> Response:
            try:
                result = refused(
                    ctx, AuditEvent.BUNDLE_DENIED, "bad-search-form", 400, body, replay=replay, interaction=SEARCH
                )
            except ProofReplayed:
                return replayed_response(request, ctx)
            return disclosure_response(result)

        return await run_in_threadpool(refuse)
    params = list(request.query_params.multi_items()) + list(form.items())
    return await run_in_threadpool(_search, request, ctx, params, replay)


def _search(request: Request, ctx: AccessContext, params: list[tuple[str, str]], replay: DeferredReplay) -> Response:
    gw = gateway_of(request)
    parsed = parse_bundle_search(params)
    try:
        if not isinstance(parsed, BundleSearch):
            status, problems = parsed
            body = document_bytes(operation_outcome(problems))
            result = gw.disclosures.refuse(
                ctx, AuditEvent.BUNDLE_DENIED, "bad-search-parameter", status, body, replay=replay, interaction=SEARCH
            )
            return disclosure_response(result)
        # The self link is built from the configured issuer, never the request's Host header, and leaves
        # the identifier out: response bytes carry only what the policy released.
        self_url = gw.settings.issuer.rstrip("/") + "/fhir/Bundle"
        result = gw.disclosures.search(ctx, parsed.system, parsed.value, self_url, limit=parsed.count, replay=replay)
    except ProofReplayed:
        return replayed_response(request, ctx)
    return disclosure_response(result)


@router.get("/Bundle/{bundle_id}")
def read_bundle(bundle_id: str, request: Request) -> Response:
    replay = deferred_replay(request)
    ctx = require_access(request, replay=replay)
    try:
        result = gateway_of(request).disclosures.read(ctx, bundle_id, replay=replay)
    except ProofReplayed:
        return replayed_response(request, ctx)
    return disclosure_response(result)
