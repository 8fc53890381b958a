"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from gateway.context import gateway_of
from gateway.db import unit_of_work

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get("/readyz")
def readyz(request: Request) -> JSONResponse:
    gw = gateway_of(request)
    try:
        # A read: on SQLite a probe never waits behind (nor holds) the write lock that every pull takes.
        unit_of_work.read(gw.sessions, lambda tx: tx.execute(text("SELECT 1")))
    except Exception:
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready", "policy_revision": gw.policy.revision})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """On the API port only for a holder of ``GATEWAY_METRICS_TOKEN``: the counters say how much was
    disclosed and refused, which is nobody's business outside. Without a token set it does not exist here
    (the loopback listener of ``GATEWAY_METRICS_ADDRESS`` serves it instead)."""
    token = gateway_of(request).settings.metrics_token
    if token is None:
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected):
        return JSONResponse(
            {"detail": "a bearer token is required"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="ld-gateway-metrics"'},
        )
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
