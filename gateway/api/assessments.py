"""``POST /assessments``: an L&D service publishes a canonical assessment.

``publish_canonical`` is shared with ``POST /fhir/Bundle``: validation, the store, the log entry naming
the version, and ``Idempotency-Key`` handling (``gateway/assessments/idempotency.py``) are the same for both.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.api.context import Gateway, gateway_of
from gateway.api.responses import outcome_response
from gateway.api.security import require_publisher
from gateway.assessments import idempotency, store
from gateway.assessments.validation import validate_assessment
from gateway.audit import log
from gateway.audit.events import AuditEvent, Outcome
from gateway.auth.rfc9068 import AccessContext
from gateway.db.models import Agency

router = APIRouter(tags=["assessments"])


class Idempotency:
    """The ``Idempotency-Key`` of one request, or a ready answer (a replay, a refusal)."""

    def __init__(self, gw: Gateway, request: Request, ctx: AccessContext, raw: bytes) -> None:
        self.key: str | None = None
        self.request_hmac = ""
        self.answer: Response | None = None
        header = request.headers.get(idempotency.HEADER)
        if header is None:
            return
        try:
            self.key = idempotency.parse_key(header)
        except idempotency.InvalidKey as exc:
            self.answer = outcome_response(400, [("error", "value", str(exc), idempotency.HEADER)])
            return
        route = request.scope.get("route")
        self.request_hmac = idempotency.request_digest(gw.keyring, getattr(route, "path", ""), raw)
        with gw.sessions() as session:
            self.answer = self.replay(gw, session, ctx)

    def replay(self, gw: Gateway, session: Any, ctx: AccessContext) -> Response | None:
        assert self.key is not None
        try:
            found = idempotency.lookup(session, gw.keyring, ctx.agency_code, self.key, self.request_hmac)
        except idempotency.KeyReused:
            issue = (
                "error",
                "business-rule",
                f"this {idempotency.HEADER} was used before with a different request; use a new key",
                idempotency.HEADER,
            )
            return outcome_response(422, [issue])
        if found is None:
            return None
        return _receipt(found.status_code, found.body, replayed=True)


def _receipt(status: int, body: dict[str, Any], *, replayed: bool = False) -> Response:
    headers = {"Location": f"/fhir/Bundle/{body['id']}"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=status, headers=headers)


@router.post("/assessments", status_code=201)
async def publish_assessment(request: Request) -> Response:
    ctx = require_publisher(request)
    gw = gateway_of(request)
    raw = await request.body()
    if len(raw) > gw.settings.max_body_bytes:
        return outcome_response(413, [("error", "too-costly", "the assessment is too large", None)])
    idem = Idempotency(gw, request, ctx, raw)
    if idem.answer is not None:
        return idem.answer
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser allows
        return outcome_response(400, [("error", "structure", "the body is not valid JSON", None)])
    return publish_canonical(gw, ctx, document, idem)


def publish_canonical(gw: Gateway, ctx: AccessContext, document: Any, idem: Idempotency | None = None) -> Response:
    """Validate and store a canonical assessment for the calling service: 201 (a new version), 200 (the
    same content as the current version: nothing new), or 422 with every problem.

    The publish, its log entry and its idempotency record commit together or not at all.
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
    now = datetime.now(UTC)
    try:
        with gw.sessions.begin() as session:
            publisher = session.execute(select(Agency).where(Agency.code == ctx.agency_code)).scalar_one()
            published = store.publish(session, gw.keyring, publisher=publisher, document=normalised, now=now)
            status = 201 if published.changed else 200
            body = {
                "id": published.assessment_id,
                "version": published.version,
                "created": published.created,
                "changed": published.changed,
            }
            log.append(
                session,
                disclosure_id=log.new_disclosure_id(),
                event=str(AuditEvent.PUBLISH_ACCEPTED),
                outcome=str(Outcome.ACCEPTED),
                created_at=now,
                client_id=ctx.client_id,
                agency_code=ctx.agency_code,
                agency_type=ctx.agency_type,
                purpose=ctx.purpose,
                subject_key=gw.keyring.identifier_hmac("subject", published.subject_id),
                assessment_id=published.assessment_id,
                assessment_version=published.version,
                reason=None if published.changed else "unchanged",
            )
            if gw.on_published and published.changed:
                gw.on_published(session, published.assessment_id, published.version, normalised)
            if idem is not None and idem.key is not None:
                idempotency.remember(
                    session,
                    gw.keyring,
                    agency_code=ctx.agency_code,
                    key=idem.key,
                    request_hmac=idem.request_hmac,
                    status_code=status,
                    body=body,
                    now=now,
                )
    except store.StoreError as exc:
        return outcome_response(422, [("error", "invariant", msg, expr) for expr, msg in exc.problems])
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it was answered.
        if idem is None or idem.key is None:
            raise
        with gw.sessions() as session:
            replay = idem.replay(gw, session, ctx)
        if replay is None:
            raise
        return replay
    return _receipt(status, body)
