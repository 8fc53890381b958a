"""``POST /assessments/{id}/overrides``: an L&D practitioner records a lawful override without consent.

Only an ``ld-service`` client (token for the ``ld-service`` purpose, scope ``assessments.write``) may
record one, and only against an assessment its own service published; any other assessment id gets the
404 an unknown one gets. The override and its disclosure-log entry commit together.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select

from gateway.api.context import gateway_of
from gateway.api.responses import outcome_response
from gateway.api.security import require_publisher
from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.db.models import Agency, Assessment
from gateway.overrides import record_override, validate_override

router = APIRouter(tags=["overrides"])

#: The disclosure-log event of a recorded override (``source:subject:action``, as gateway.audit.events).


@router.post("/assessments/{assessment_id}/overrides", status_code=201)
async def record(assessment_id: str, request: Request) -> Response:
    ctx = require_publisher(request)
    gw = gateway_of(request)
    raw = await request.body()
    if len(raw) > gw.settings.max_body_bytes:
        return outcome_response(413, [("error", "too-costly", "the override is too large", None)])
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return outcome_response(400, [("error", "structure", "the body is not valid JSON", None)])
    now = datetime.now(UTC)
    with gw.sessions.begin() as session:
        assessment = session.get(Assessment, assessment_id)
        publisher = session.execute(select(Agency).where(Agency.code == ctx.agency_code)).scalar_one_or_none()
        if assessment is None or publisher is None or assessment.publisher_agency_id != publisher.id:
            return outcome_response(404, [("error", "not-found", "No such assessment of yours.", None)])
        agency_types = {code: type_ for code, type_ in session.execute(select(Agency.code, Agency.type))}
        override, problems = validate_override(body, now=now, agency_types=agency_types)
        if problems or override is None:
            return outcome_response(422, [("error", "invalid", message, where) for where, message in problems])
        stored = record_override(
            session,
            gw.keyring,
            assessment=assessment,
            request=override,
            client_id=ctx.client_id,
            agency_code=ctx.agency_code,
            now=now,
        )
        log.append(
            session,
            NewEntry(
                event=AuditEvent.OVERRIDE_RECORDED,
                outcome=Outcome.RECORDED,
                created_at=now,
                client_id=ctx.client_id,
                agency_code=ctx.agency_code,
                agency_type=ctx.agency_type,
                purpose=ctx.purpose,
                subject_key=gw.keyring.identifier_hmac("subject", assessment.subject_id),
                assessment_id=assessment.id,
                assessment_version=assessment.current_version,
                overrides=[{"id": stored.id, "basis": stored.basis}],
                ig_review=True,
            ),
        )
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
