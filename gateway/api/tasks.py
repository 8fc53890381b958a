"""FHIR Task routes: court staff (and other allowed agencies) request assessment information;
the owning L&D service works the request. See docs/requests.md."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from gateway.api import json_body
from gateway.api.responses import FHIR_JSON, denied_status, fhir_response, outcome_response
from gateway.api.security import require_access
from gateway.audit.events import AuditEvent
from gateway.auth.vocab import Scope
from gateway.context import gateway_of
from gateway.court_requests.results import Denied, Released
from gateway.court_requests.service import RequestService
from gateway.issue import Issue
from gateway.json_bytes import compact_json

router = APIRouter(prefix="/fhir", tags=["requests"])

PATCH_TYPES = ("application/json-patch+json", "application/json")


def requests_of(request: Request) -> RequestService:
    return gateway_of(request).requests


def denied_response(denied: Denied) -> Response:
    """A refused request call: its status, its OperationOutcome, and the id of the refusal's log entry."""
    # Every request refusal is logged (court_requests.results): one without its entry is a fault, not an answer.
    if denied.disclosure_id is None:
        raise RuntimeError("a request refusal without its log entry")
    return outcome_response(denied_status(denied.why), denied.problems, {"X-Disclosure-Id": denied.disclosure_id})


def _respond(result: Released | Denied) -> Response:
    if isinstance(result, Denied):
        return denied_response(result)
    body = compact_json(result.body)
    return fhir_response(201 if result.created else 200, body, result.headers)


async def _json_body(request: Request) -> tuple[Any, Response | None]:
    return json_body.parse(await request.body())


@router.post("/Task", status_code=201)
async def create_task(request: Request) -> Response:
    # The body on the event loop; authentication and the request's work (database) in the threadpool.
    ctx = await run_in_threadpool(require_access, request, Scope.TASK_WRITE, AuditEvent.TASK_DENIED)
    body, bad = await _json_body(request)
    if bad:
        return bad
    return await run_in_threadpool(lambda: _respond(requests_of(request).create(ctx, body)))


@router.get("/Task")
def search_tasks(request: Request) -> Response:
    ctx = require_access(request, Scope.TASK_READ, AuditEvent.TASK_DENIED)
    unknown = sorted(set(request.query_params) - {"status"})
    if unknown:
        issues = [Issue("not-supported", f"search parameter {name} is not supported", name) for name in unknown]
        return outcome_response(400, issues)
    # FHIR token search: repeated parameters AND, commas OR; a status can only be one thing, so both mean "any of".
    statuses = [s for value in request.query_params.getlist("status") for s in value.split(",") if s]
    return _respond(requests_of(request).search(ctx, statuses))


@router.get("/Task/{task_id}")
def read_task(task_id: str, request: Request) -> Response:
    ctx = require_access(request, Scope.TASK_READ, AuditEvent.TASK_DENIED)
    return _respond(requests_of(request).read(ctx, task_id))


@router.patch("/Task/{task_id}")
async def patch_task(task_id: str, request: Request) -> Response:
    ctx = await run_in_threadpool(require_access, request, Scope.TASK_WRITE, AuditEvent.TASK_DENIED)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in PATCH_TYPES:
        issue = Issue("not-supported", "send an RFC 6902 JSON Patch as application/json-patch+json")
        return outcome_response(415, [issue])
    body, bad = await _json_body(request)
    if bad:
        return bad
    if_match = request.headers.get("if-match")
    return await run_in_threadpool(lambda: _respond(requests_of(request).patch(ctx, task_id, body, if_match)))


__all__ = ["FHIR_JSON", "router"]
