"""``/audit``: the log's checkpoints, key and proofs (and, for IG, its queries).

Who may call what (docs/audit.md):
- ``/audit/log-key``, ``/audit/checkpoints/*`` and ``/audit/proofs/consistency`` are public: they
  hold hashes and signatures only, and witnesses and auditors must reach them without an account.
- ``/audit/proofs/inclusion/{id}``: a valid access token of the client the entry names (the
  recipient proving what it got), or any token with the ``audit.read`` scope. Anyone else gets the
  same 404 as for an unknown id, so disclosure ids are no oracle.
- ``/audit/disclosures``, ``/audit/disclosures/{id}``, ``/audit/subjects/{nhs}/report``,
  ``/audit/subjects/report/_search``: a token with ``audit.read`` (``ld-service`` clients; IG staff
  sessions come with the IG pages); ``/audit/subjects/report/sign-off`` (gateway/api/audit_subjects.py),
  ``audit.write``. Refusals are logged.
- ``/audit/policy-revisions/{revision}``: any valid access token (the stored policy, no personal data;
  not who activated it, a member of IG staff).

An L&D service's ``audit.read`` covers only the log entries about its own assessments and the people they
are about (DOMAIN.md "Provenance"; ``queries.Scope``): another service's person, entry or proof answers
exactly as an unknown one. Reading the
whole log is for IG staff, on the IG pages. ``POST /audit/disclosures/_search`` and
``POST /audit/subjects/report/_search`` take the same parameters in a form body (FHIR's search by POST),
so that an NHS number need not be in a URL, a proxy's log or a browser's history.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from gateway.api.security import authenticate, require_access
from gateway.assessments.identifiers import is_valid_nhs_number
from gateway.audit import balp, checkpoints, export, proofs, queries, tree
from gateway.audit.c2sp_note import NoteSigner
from gateway.audit.events import AuditEvent
from gateway.audit.ticker import CheckpointTicker
from gateway.audit.witness import status as witness_status
from gateway.audit.witness import witness_from
from gateway.auth.errors import OAuthError
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.router import read_form
from gateway.auth.vocab import Scope
from gateway.config import Settings
from gateway.context import Gateway, gateway_of
from gateway.db import unit_of_work
from gateway.keys import KeyRing
from gateway.policy.store import read_revision

logger = logging.getLogger("gateway.audit")

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

NOTE_TYPE = "text/plain; charset=utf-8"
#: Tree sizes are stored as 64-bit integers; anything larger is a bad request, not a server error.
INT64_MAX = 2**63 - 1
_UNAVAILABLE_STATUS = {
    proofs.Why.NO_SUCH_DISCLOSURE: 404,
    proofs.Why.NO_CHECKPOINT: 404,
    proofs.Why.NOT_COVERED: 409,
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status, headers={"Cache-Control": "no-store"})


def audit_caller(request: Request) -> AccessContext:
    """A valid access token (any scope; each route checks what it needs), with its DPoP proof when
    bound; refusals are logged (gateway.api.security.authenticate)."""
    return authenticate(request, AuditEvent.AUDIT_DENIED)


def checkpointing(settings: Settings, sessions: sessionmaker[Session], signer: NoteSigner) -> Lifespan:
    """What a server runs beside the routes: the ticker that signs checkpoints, and a start-up line on how
    (or whether) they are witnessed."""
    ticker = CheckpointTicker(sessions, signer, settings.checkpoint_tick, witness_from(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        witnessing = witness_status(settings)
        if witnessing.rollback_detectable:
            logger.info("checkpoints witnessed", extra={"fields": {"witness": witnessing.kind}})
        else:
            logger.warning(witnessing.summary())
        ticker.start()
        try:
            yield
        finally:
            ticker.stop()

    return lifespan


# Built once per process and included in every application: each route reads its application's log,
# keys and settings from the request (gateway.context), never from what it was built with.
router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/log-key")
def log_key(request: Request) -> dict[str, Any]:
    signer = gateway_of(request).log_signer
    verifier = signer.verifier
    raw = verifier.public.public_bytes_raw()
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
    return {"origin": signer.name, "vkey": verifier.vkey(), "key_id": verifier.key_id.hex(), "jwk": jwk}


@router.get("/checkpoints/latest")
def latest_checkpoint(request: Request) -> Response:
    row = unit_of_work.read(gateway_of(request).sessions, checkpoints.latest)
    if row is None:
        return _problem(404, "no checkpoint has been signed yet")
    return PlainTextResponse(row.note, media_type=NOTE_TYPE, headers={"Cache-Control": "no-store"})


@router.get("/checkpoints/{size}")
def checkpoint_at(request: Request, size: int = Path(..., ge=0, le=INT64_MAX)) -> Response:
    row = unit_of_work.read(gateway_of(request).sessions, lambda tx: checkpoints.at_size(tx, size))
    if row is None:
        return _problem(404, f"no checkpoint at tree size {size}")
    return PlainTextResponse(row.note, media_type=NOTE_TYPE)


@router.get("/proofs/consistency")
def consistency(
    request: Request, first: int = Query(..., ge=0, le=INT64_MAX), second: int = Query(..., ge=0, le=INT64_MAX)
) -> Response:
    """RFC 9162 consistency proof between two checkpointed tree sizes."""
    if first > second:
        return _problem(400, "first must not be larger than second")

    def prove(tx: Session) -> list[bytes] | None:
        if any(checkpoints.at_size(tx, s) is None for s in {first, second} if s):
            return None
        return tree.consistency_proof(tx, first, second)

    proof = unit_of_work.read(gateway_of(request).sessions, prove, snapshot=True)
    if proof is None:
        return _problem(404, "both sizes must be checkpointed tree sizes (or 0)")
    return JSONResponse({"first": first, "second": second, "proof": [_b64(p) for p in proof]})


@router.get("/proofs/inclusion/{disclosure_id}")
def inclusion(
    disclosure_id: str, request: Request, tree_size: int | None = Query(None, ge=1, le=INT64_MAX)
) -> Response:
    """RFC 9162 inclusion proof of one entry in a checkpointed tree (by default the newest)."""
    ctx = audit_caller(request)
    gw = gateway_of(request)

    def may_see(session: Session, entry: queries.DisclosureRecord) -> bool:
        return entry.client_id == ctx.client_id or _covers(session, gw.keyring, ctx, entry)

    found = proofs.inclusion(gw.sessions, gw.log_signer, disclosure_id, tree_size, may_see)
    if isinstance(found, proofs.Unavailable):
        return _problem(_UNAVAILABLE_STATUS[found.why], found.detail)
    body = {
        "disclosure_id": found.disclosure_id,
        "leaf_index": found.leaf_index,
        "leaf_hash": _b64(found.leaf_hash),
        "tree_size": found.tree_size,
        "proof": [_b64(p) for p in found.proof],
        "checkpoint": found.checkpoint,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/disclosures")
def disclosures(
    request: Request,
    nhs_number: str | None = Query(None, description="The person, matched through the identifier HMAC"),
    agency: str | None = Query(None),
    client_id: str | None = Query(None),
    purpose: str | None = Query(None),
    outcome: str | None = Query(None, pattern="^(released|denied)$"),
    since: datetime | None = Query(None, description="From this instant (inclusive)"),
    until: datetime | None = Query(None, description="Before this instant (exclusive)"),
    override: bool | None = Query(None, description="Only entries that did (true) or did not rely on an override"),
    limit: int = Query(50, ge=1, le=queries.MAX_LIMIT),
    cursor: int | None = Query(None, ge=0, le=INT64_MAX, description="next_cursor of the previous page"),
    format: str = Query("json", pattern="^(json|csv|fhir)$"),
) -> Response:
    """IG query over the log: JSON pages (keyset), or every match as CSV or a FHIR Bundle of AuditEvents."""
    ctx = require_auditor(request)
    search = DisclosureSearch.model_construct(
        nhs_number=nhs_number,
        agency=agency,
        client_id=client_id,
        purpose=purpose,
        outcome=outcome,
        since=since,
        until=until,
        override=override,
        limit=limit,
        cursor=cursor,
        format=format,
    )
    return _disclosures(request, ctx, search)


@router.post("/disclosures/_search")
async def disclosures_by_post(request: Request) -> Response:
    """``GET /audit/disclosures`` with its parameters in a form body (no NHS number in the URL)."""
    ctx = await run_in_threadpool(require_auditor, request)
    params = await form_params(request)
    if isinstance(params, Response):
        return params
    try:
        search = DisclosureSearch.model_validate(params)
    except ValidationError as exc:
        return invalid([f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()])
    return await run_in_threadpool(_disclosures, request, ctx, search)


def _disclosures(request: Request, ctx: AccessContext, search: DisclosureSearch) -> Response:
    gw = gateway_of(request)
    problems = _time_problems(search.since, search.until)
    nhs_number = search.nhs_number.replace(" ", "") if search.nhs_number is not None else None
    if nhs_number is not None and not is_valid_nhs_number(nhs_number):
        problems.append("nhs_number is not a valid NHS number")
    if problems:
        return invalid(problems)
    return unit_of_work.read(gw.sessions, lambda tx: _search(tx, gw, ctx, search, nhs_number))


def _search(
    session: Session, gw: Gateway, ctx: AccessContext, search: DisclosureSearch, nhs_number: str | None
) -> Response:
    keys = queries.subject_keys(session, gw.keyring, nhs_number) if nhs_number else None
    filters = queries.DisclosureFilter(
        subject_keys=keys,
        agency_code=search.agency,
        client_id=search.client_id,
        purpose=search.purpose,
        outcome=search.outcome,
        since=search.since,
        until=search.until,
        override=search.override,
        scope=scope_of(session, gw.keyring, ctx),
    )
    if search.format == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows(export.to_csv_rows(queries.iter_disclosures(session, filters)))
        return Response(
            buffer.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="disclosures.csv"',
                "Cache-Control": "no-store",
            },
        )
    if search.format == "fhir":
        events = [balp.audit_event(r, server=gw.settings.issuer) for r in queries.iter_disclosures(session, filters)]
        bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": e} for e in events]}
        if not events:
            del bundle["entry"]  # FHIR JSON has no empty arrays
        return JSONResponse(bundle, media_type="application/fhir+json", headers={"Cache-Control": "no-store"})
    page = queries.list_disclosures(session, filters, limit=search.limit, before=search.cursor)
    body = {"items": [r.to_json() for r in page.items], "next_cursor": page.next_cursor}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/disclosures/{disclosure_id}")
def disclosure(disclosure_id: str, request: Request) -> Response:
    """One entry: who, when, why, released fields, withheld fields with rule and reason."""
    ctx = require_auditor(request)
    gw = gateway_of(request)

    def find(tx: Session) -> queries.DisclosureRecord | None:
        record = queries.get_disclosure(tx, disclosure_id)
        # Another service's entry is answered as one that does not exist.
        return record if record is not None and scope_of(tx, gw.keyring, ctx).sees(record) else None

    record = unit_of_work.read(gw.sessions, find)
    if record is None:
        return _problem(404, "no such disclosure")
    return JSONResponse(record.to_json(), headers={"Cache-Control": "no-store"})


@router.get("/policy-revisions/{revision}")
def policy_revision(revision: str, request: Request) -> Response:
    """A stored policy revision whole: the rules that decided every entry naming it. The sharing
    agreement holds no personal data, so any valid token may read it (a recipient included)."""
    audit_caller(request)
    stored = unit_of_work.read(gateway_of(request).sessions, lambda tx: read_revision(tx, revision))
    if stored is None:
        return _problem(404, "no such policy revision")
    return JSONResponse(stored.as_shared_json(), headers={"Cache-Control": "no-store"})


class DisclosureSearch(BaseModel):
    """The parameters of ``/audit/disclosures``, as the form of its ``POST …/_search`` is checked."""

    model_config = ConfigDict(extra="ignore")

    nhs_number: str | None = None
    agency: str | None = None
    client_id: str | None = None
    purpose: str | None = None
    outcome: Literal["released", "denied"] | None = None
    since: datetime | None = None
    until: datetime | None = None
    override: bool | None = None
    limit: int = Field(50, ge=1, le=queries.MAX_LIMIT)
    cursor: int | None = Field(None, ge=0, le=INT64_MAX)
    format: Literal["json", "csv", "fhir"] = "json"


def invalid(problems: list[str]) -> JSONResponse:
    return JSONResponse(
        {"error": "invalid_request", "problems": problems}, status_code=400, headers={"Cache-Control": "no-store"}
    )


async def form_params(request: Request) -> dict[str, str] | Response:
    """The query string's parameters and the form body's together (FHIR search by POST allows both)."""
    try:
        form = await read_form(request)
    except OAuthError as exc:
        return invalid([f"{exc.description} (application/x-www-form-urlencoded)"])
    return {**dict(request.query_params), **form}


def _covers(session: Session, keyring: KeyRing, ctx: AccessContext, entry: queries.DisclosureRecord) -> bool:
    """Whether an ``audit.read`` token reaches this entry: an L&D service, only its own view (``queries.Scope``)."""
    if not ctx.allows(Scope.AUDIT_READ):
        return False
    return scope_of(session, keyring, ctx).sees(entry)


def scope_of(session: Session, keyring: KeyRing, ctx: AccessContext) -> queries.Scope:
    """The caller's view of the log (:func:`queries.agency_scope`)."""
    return queries.agency_scope(session, keyring, ctx.agency_code)


def _time_problems(since: datetime | None, until: datetime | None) -> list[str]:
    problems = [f"{n} needs a time zone" for n, v in (("since", since), ("until", until)) if v and not v.tzinfo]
    if since and until and since.tzinfo and until.tzinfo and since >= until:
        problems.append("since must be before until")
    return problems


def require_auditor(request: Request) -> AccessContext:
    """A token with ``audit.read`` (and its DPoP proof when bound); anything else is refused and logged."""
    return require_access(request, Scope.AUDIT_READ, AuditEvent.AUDIT_DENIED)
