"""``/audit/subjects``: the subject access report and the clinician's sign-off of it.

The person is named in a form body (``POST /audit/subjects/report/_search``: ``nhs_number`` or
``pnc_id``), or by NHS number in the path of the GET (a PNC ID holds a ``/``). Who may call: a token
with ``audit.read``, seeing its own part of the log only (``gateway/api/audit.py``); the sign-off, which
writes to the log, a token with ``audit.write``, for the service's own people only. The use cases are in
``gateway/audit/subject_access.py``; these routes only translate.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from gateway.api.audit import form_params, invalid, require_auditor, scope_of
from gateway.api.security import require_access
from gateway.audit import reports, subject_access
from gateway.audit.events import AuditEvent
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import Scope
from gateway.context import Gateway, gateway_of
from gateway.db import unit_of_work
from gateway.keys import KeyRing

# Built once per process and included in every application: the routes read their application's
# database and keys from the request (gateway.context).
router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/subjects/{nhs_number}/report")
def subject_report(
    nhs_number: str,
    request: Request,
    event: list[str] = Query(
        [], description="Only entries of these events (repeat, or comma-separate): e.g. disclosure:bundle:released"
    ),
) -> Response:
    """Subject access report: who received what about this person (in section terms), when, for which
    purpose, on which basis; counts by event; and whether a clinician has signed off the serious-harm
    check."""
    ctx = require_auditor(request)
    return _subject_report(request, ctx, {"nhs_number": nhs_number}, event)


@router.post("/subjects/report/_search")
async def subject_report_by_post(request: Request) -> Response:
    """The subject access report with the person in a form body (``nhs_number`` or ``pnc_id``), not in
    the URL; ``event`` filters as on the GET."""
    ctx = await run_in_threadpool(require_auditor, request)
    params = await form_params(request)
    if isinstance(params, Response):
        return params
    events = request.query_params.getlist("event") + ([params["event"]] if "event" in params else [])
    return await run_in_threadpool(_subject_report, request, ctx, params, events)


def _subject_report(request: Request, ctx: AccessContext, params: dict[str, str], events: list[str]) -> Response:
    gw = gateway_of(request)
    person, problems = subject_access.person_of(params)
    wanted, event_problems = subject_access.events_of(events)
    if person is None or event_problems:
        return invalid(problems + event_problems)

    def report(tx: Session) -> dict[str, Any]:
        return subject_access.report(tx, gw.keyring, person, _caller(tx, gw.keyring, ctx), _sections(gw), wanted)

    body = unit_of_work.read(gw.sessions, report, snapshot=True)  # one view of the log for the whole report
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/subjects/report/sign-off", status_code=201)
async def subject_report_sign_off(request: Request) -> Response:
    """Record a clinician's serious-harm check of a subject access report before it is released: form
    fields ``nhs_number`` or ``pnc_id``, ``clinician`` (name or professional registration) and
    ``decision`` (``release`` | ``release-with-redactions`` | ``withhold``). The report then shows it."""
    ctx = await run_in_threadpool(require_access, request, Scope.AUDIT_WRITE, AuditEvent.AUDIT_DENIED)
    params = await form_params(request)
    if isinstance(params, Response):
        return params
    return await run_in_threadpool(_sign_off, request, ctx, params)


def _sign_off(request: Request, ctx: AccessContext, params: dict[str, str]) -> Response:
    gw = gateway_of(request)
    person, problems = subject_access.person_of(params)
    if person is None:
        return invalid(problems)
    signed = subject_access.run_sign_off(
        gw.sessions,
        gw.keyring,
        person,
        lambda tx: _caller(tx, gw.keyring, ctx),
        clinician=params.get("clinician", ""),
        decision=params.get("decision", ""),
        now=datetime.now(UTC),
    )
    if isinstance(signed, subject_access.NoSuchPerson):
        # The same bytes whether nobody or only another service has this person.
        return JSONResponse({"error": "no such person"}, status_code=404, headers={"Cache-Control": "no-store"})
    if isinstance(signed, subject_access.InvalidSignOff):
        return invalid([signed.problem])
    return JSONResponse(signed.to_json(), status_code=201, headers={"Cache-Control": "no-store"})


def _caller(session: Session, keyring: KeyRing, ctx: AccessContext) -> subject_access.Caller:
    return subject_access.Caller(
        scope=scope_of(session, keyring, ctx),
        agency_code=ctx.agency_code,
        agency_type=ctx.agency_type,
        client_id=ctx.client_id,
        purpose=ctx.purpose,
        network=ctx.network,
    )


def _sections(gw: Gateway) -> dict[str, str]:
    return reports.sections_of(gw.catalogue)
