"""``POST /assessments``: an L&D service publishes a canonical assessment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from gateway.api.context import Gateway, gateway_of
from gateway.api.responses import outcome_response
from gateway.api.security import require_publisher
from gateway.assessments import store
from gateway.assessments.validation import validate_assessment
from gateway.db.models import Agency

router = APIRouter(tags=["assessments"])


@router.post("/assessments", status_code=201)
async def publish_assessment(request: Request) -> Response:
    ctx = require_publisher(request)
    gw = gateway_of(request)
    raw = await request.body()
    if len(raw) > gw.settings.max_body_bytes:
        return outcome_response(413, [("error", "too-costly", "the assessment is too large", None)])
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return outcome_response(400, [("error", "structure", "the body is not valid JSON", None)])
    return publish_canonical(gw, ctx.agency_code, document)


def publish_canonical(gw: Gateway, agency_code: str, document: Any) -> Response:
    """Validate and store a canonical assessment for the publishing agency: 201, or 422 with every problem.

    Shared by ``POST /assessments`` and ``POST /fhir/Bundle`` (which maps its document first).
    """
    normalised, problems = validate_assessment(document, gw.assessment_schema)
    if problems or normalised is None:
        # Every problem in one answer: the schema's, the identifiers', and unknown agencies in case links.
        issues = [("error", p.code, p.message, p.expression) for p in problems]
        with gw.sessions() as session:
            links = document.get("case_links") if isinstance(document, dict) else None
            unknown = store.unknown_agency_problems(session, links)
        issues += [("error", "invariant", message, expression) for expression, message in unknown]
        return outcome_response(422, issues)
    try:
        with gw.sessions.begin() as session:
            publisher = session.execute(select(Agency).where(Agency.code == agency_code)).scalar_one()
            published = store.publish(
                session, gw.keyring, publisher=publisher, document=normalised, now=datetime.now(UTC)
            )
            if gw.on_published:
                gw.on_published(session, published.assessment_id, published.version, normalised)
    except store.StoreError as exc:
        return outcome_response(422, [("error", "invariant", msg, expr) for expr, msg in exc.problems])
    return JSONResponse(
        {"id": published.assessment_id, "version": published.version, "created": published.created},
        status_code=201,
        headers={"Location": f"/fhir/Bundle/{published.assessment_id}"},
    )
