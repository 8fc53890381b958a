"""``POST /assessments``: an L&D service publishes a canonical assessment.

The publish itself is :func:`gateway.ingest.service.publish_document`, shared with ``POST /fhir/Bundle``
and ``ld-gateway import``; this module adds HTTP: the body, ``Idempotency-Key`` and the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import json_body
from gateway.api.responses import outcome_response
from gateway.api.security import require_publisher
from gateway.assessments import idempotency
from gateway.auth.rfc9068 import AccessContext
from gateway.context import Gateway, gateway_of
from gateway.ingest.service import (
    IdempotentRequest,
    Publisher,
    Receipt,
    Rejected,
    idempotent_request,
    publish_document,
)
from gateway.ingest.text_screen import text_screen
from gateway.issue import Issue

router = APIRouter(tags=["assessments"])


class Idempotency:
    """The ``Idempotency-Key`` of one request (:func:`gateway.ingest.service.idempotent_request`), or the
    answer it already has: a replay of the stored response, or the refusal of a bad or reused key."""

    def __init__(self, gw: Gateway, request: Request, ctx: AccessContext, raw: bytes) -> None:
        self.request: IdempotentRequest | None = None
        self.answer: Response | None = None
        route = getattr(request.scope.get("route"), "path", "")
        header = request.headers.get(idempotency.HEADER)
        try:
            self.request, found = idempotent_request(
                gw.sessions, gw.keyring, ctx.agency_code, header, route=route, body=raw
            )
        except Rejected as exc:
            self.answer = rejected_response(exc)
            return
        if found is not None:
            self.answer = receipt_response(found)

    def parse(self, raw: bytes) -> tuple[Any, Response | None]:
        """The request's JSON body, or the answer it already has: the key's, or the 400 of a body that
        is not JSON."""
        if self.answer is not None:
            return None, self.answer
        return json_body.parse(raw)


def receipt_response(receipt: Receipt) -> Response:
    headers = {"Location": f"/fhir/Bundle/{receipt.assessment_id}"}
    if receipt.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(receipt.body, status_code=receipt.status, headers=headers)


def rejected_response(exc: Rejected) -> Response:
    return outcome_response(exc.status, exc.problems)


async def off_the_loop(request: Request, publish: Callable[[Request, AccessContext, bytes], Response]) -> Response:
    """Run a publish route: only the body is read on the event loop; authentication and the publish
    (database, crypto) run in the threadpool, so a publish never stalls other requests."""
    ctx = await run_in_threadpool(require_publisher, request)
    raw = await request.body()
    return await run_in_threadpool(publish, request, ctx, raw)


@router.post("/assessments", status_code=201)
async def publish_assessment(request: Request) -> Response:
    return await off_the_loop(request, _publish_assessment)


def _publish_assessment(request: Request, ctx: AccessContext, raw: bytes) -> Response:
    gw = gateway_of(request)
    if len(raw) > gw.settings.max_body_bytes:
        return outcome_response(413, [Issue("too-costly", "the assessment is too large")])
    idem = Idempotency(gw, request, ctx, raw)
    document, answer = idem.parse(raw)
    if answer is not None:
        return answer
    return publish_canonical(gw, ctx, document, idem)


def publish_canonical(
    gw: Gateway,
    ctx: AccessContext,
    document: Any,
    idem: Idempotency | None = None,
    locate: Callable[[Issue], Issue] | None = None,
) -> Response:
    """201 (a new assessment or version), 200 (the same content as the current version), or 422 with
    every problem; ``locate`` moves each problem's canonical path to where the caller wrote the value
    (a FHIR document's element). A 201 or 200 may carry warnings (``outcome``, an OperationOutcome, located
    the same way): text bound for police or the CPS that appears to name a diagnosis."""
    publisher = Publisher(ctx.agency_code, ctx.client_id, ctx.agency_type, ctx.purpose, network=ctx.network)
    try:
        receipt = publish_document(
            gw.sessions,
            gw.keyring,
            gw.assessment_schema,
            publisher,
            document,
            now=datetime.now(UTC),
            idempotent=idem.request if idem else None,
            on_published=gw.on_published,
            screen=text_screen(gw.policy, gw.catalogue, gw.settings.resolved_schema_dir(), locate=locate),
            agencies=gw.agencies,
        )
    except Rejected as exc:
        if locate is not None:
            exc.problems = [locate(issue) for issue in exc.problems]
        return rejected_response(exc)
    return receipt_response(receipt)
