"""``POST /assessments/{id}/overrides``: an L&D practitioner records a lawful override without consent.

Only an ``ld-service`` client (token for the ``ld-service`` purpose, scope ``assessments.write``) may
record one, and only against an assessment its own service published; any other assessment id gets the
404 an unknown one gets. The override and its disclosure-log entry commit together.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import json_body
from gateway.api.responses import denied_status, outcome_response
from gateway.api.security import require_publisher
from gateway.auth.rfc9068 import AccessContext
from gateway.context import gateway_of
from gateway.denied import Denied
from gateway.issue import Issue
from gateway.overrides import service

router = APIRouter(tags=["overrides"])


@router.post("/assessments/{assessment_id}/overrides", status_code=201)
async def record(assessment_id: str, request: Request) -> Response:
    # As POST /assessments: the body on the event loop, everything else in the threadpool.
    ctx = await run_in_threadpool(require_publisher, request)
    raw = await request.body()
    return await run_in_threadpool(_record, assessment_id, request, ctx, raw)


def _record(assessment_id: str, request: Request, ctx: AccessContext, raw: bytes) -> Response:
    gw = gateway_of(request)
    if len(raw) > gw.settings.max_body_bytes:
        return outcome_response(413, [Issue("too-costly", "the override is too large")])
    body, refused = json_body.parse(raw)
    if refused is not None:
        return refused
    outcome = service.run_record(
        gw.sessions, gw.keyring, ctx, assessment_id, body, now=datetime.now(UTC), agencies=gw.agencies
    )
    if isinstance(outcome, Denied):
        return outcome_response(denied_status(outcome.why), outcome.problems)
    stored = outcome.override
    return JSONResponse(
        {
            "id": stored.id,
            "assessment_id": stored.assessment_id,
            "basis": stored.basis,
            "recipients": list(stored.recipients),
            "expires_at": stored.expires_at.isoformat(),
            "recorded_at": stored.recorded_at.isoformat(),
            "recorded_by": stored.recorded_by,
        },
        status_code=201,
    )
