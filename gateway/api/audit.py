"""``/audit``: the log's checkpoints, key and proofs (and, for IG, its queries).

Who may call what (docs/audit.md):
- ``/audit/log-key``, ``/audit/checkpoints/*`` and ``/audit/proofs/consistency`` are public: they
  hold hashes and signatures only, and witnesses and auditors must reach them without an account.
- ``/audit/proofs/inclusion/{id}``: a valid access token of the client the entry names (the
  recipient proving what it got), or any token with the ``audit.read`` scope. Anyone else gets the
  same 404 as for an unknown id, so disclosure ids are no oracle.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from gateway.api.security import authenticate
from gateway.audit import checkpoints, tree
from gateway.audit.c2sp_note import NoteSigner
from gateway.audit.events import AuditEvent
from gateway.audit.ticker import CheckpointTicker
from gateway.audit.witness import witness_from
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import Scope
from gateway.config import Settings
from gateway.db.models import DisclosureLogEntry

NOTE_TYPE = "text/plain; charset=utf-8"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"error": detail}, status_code=status, headers={"Cache-Control": "no-store"})


def audit_caller(request: Request) -> AccessContext:
    """A valid access token (any scope; each route checks what it needs), with its DPoP proof when
    bound; refusals are logged (gateway.api.security.authenticate)."""
    return authenticate(request, AuditEvent.AUDIT_DENIED)


def build_router(settings: Settings, sessions: sessionmaker[Session], signer: NoteSigner) -> APIRouter:
    ticker = CheckpointTicker(sessions, signer, settings.checkpoint_tick, witness_from(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ticker.start()
        try:
            yield
        finally:
            ticker.stop()

    router = APIRouter(prefix="/audit", tags=["audit"], lifespan=lifespan)

    @router.get("/log-key")
    def log_key() -> dict[str, Any]:
        verifier = signer.verifier
        raw = verifier.public.public_bytes_raw()
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}
        return {"origin": signer.name, "vkey": verifier.vkey(), "key_id": verifier.key_id.hex(), "jwk": jwk}

    @router.get("/checkpoints/latest")
    def latest_checkpoint() -> Response:
        with sessions() as session:
            row = checkpoints.latest(session)
        if row is None:
            return _problem(404, "no checkpoint has been signed yet")
        return PlainTextResponse(row.note, media_type=NOTE_TYPE, headers={"Cache-Control": "no-store"})

    @router.get("/checkpoints/{size}")
    def checkpoint_at(size: int) -> Response:
        with sessions() as session:
            row = checkpoints.at_size(session, size)
        if row is None:
            return _problem(404, f"no checkpoint at tree size {size}")
        return PlainTextResponse(row.note, media_type=NOTE_TYPE)

    @router.get("/proofs/consistency")
    def consistency(first: int = Query(..., ge=0), second: int = Query(..., ge=0)) -> Response:
        """RFC 9162 consistency proof between two checkpointed tree sizes."""
        if first > second:
            return _problem(400, "first must not be larger than second")
        with sessions() as session:
            signed = [checkpoints.at_size(session, s) for s in {first, second} if s]
            if any(c is None for c in signed):
                return _problem(404, "both sizes must be checkpointed tree sizes (or 0)")
            proof = tree.consistency_proof(session, first, second)
        return JSONResponse({"first": first, "second": second, "proof": [_b64(p) for p in proof]})

    @router.get("/proofs/inclusion/{disclosure_id}")
    def inclusion(disclosure_id: str, request: Request, tree_size: int | None = Query(None, ge=1)) -> Response:
        """RFC 9162 inclusion proof of one entry in a checkpointed tree (by default the newest)."""
        ctx = audit_caller(request)
        with sessions.begin() as session:
            entry = session.execute(
                select(DisclosureLogEntry).where(DisclosureLogEntry.disclosure_id == disclosure_id)
            ).scalar_one_or_none()
            if entry is None or not (ctx.allows(Scope.AUDIT_READ) or entry.client_id == ctx.client_id):
                return _problem(404, "no such disclosure")
            if tree_size is None:
                latest = checkpoints.latest(session)
                if latest is None or latest.tree_size <= entry.seq:
                    # The entry is newer than the last checkpoint: sign one now rather than make the
                    # recipient wait; this never signs more than the log holds.
                    latest = checkpoints.checkpoint_if_due(session, signer, force=True) or latest
                assert latest is not None
                cp = latest
            else:
                found = checkpoints.at_size(session, tree_size)
                if found is None:
                    return _problem(404, f"no checkpoint at tree size {tree_size}")
                cp = found
            if cp.tree_size <= entry.seq:
                return _problem(409, f"checkpoint {cp.tree_size} does not cover entry {entry.seq}")
            proof = tree.inclusion_proof(session, entry.seq, cp.tree_size)
            body = {
                "disclosure_id": disclosure_id,
                "leaf_index": entry.seq,
                "leaf_hash": _b64(bytes.fromhex(entry.leaf_hash)),
                "tree_size": cp.tree_size,
                "proof": [_b64(p) for p in proof],
                "checkpoint": cp.note,
            }
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    return router
