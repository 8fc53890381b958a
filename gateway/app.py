"""The FastAPI application factory: the one place where the parts are wired together."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway import __version__
from gateway.api import (
    access,
    assessments,
    docs,
    events,
    fhir,
    fhir_inbound,
    health,
    openapi,
    overrides,
    stream_revocation,
    tasks,
)
from gateway.api import audit as audit_api
from gateway.api import audit_subjects as audit_subjects_api
from gateway.api.responses import outcome_response
from gateway.api.security import Refused
from gateway.app_logging import install_request_logging
from gateway.assessments.catalogue import Catalogue, load_catalogue
from gateway.assessments.validation import load_schema
from gateway.audit import log
from gateway.audit.entry import NewEntry
from gateway.audit.events import AuditEvent, Outcome
from gateway.audit.log_key import log_signer
from gateway.audit.receipts import ReceiptSigner
from gateway.auth._files import load_or_create_secret
from gateway.auth.ratelimit import RateLimiter
from gateway.auth.rfc9449 import DPOP_NONCE_FILE, DpopNonces
from gateway.auth.rotation import SigningKeys
from gateway.auth.router import build_router as build_auth_router
from gateway.auth.signing import ensure_signing_key
from gateway.auth.store import DatabaseReplayCache, DatabaseRevocations
from gateway.config import Settings, get_settings
from gateway.context import Gateway, install
from gateway.court_requests.notify import make_notifier
from gateway.court_requests.service import RequestService
from gateway.court_requests.webhooks import Subscriptions, WebhookWorker
from gateway.db import unit_of_work
from gateway.db.agencies import AgencyDirectory
from gateway.db.engine import make_engine, make_session_factory
from gateway.disclosure.service import DisclosureService
from gateway.fhir.examples import publishable_document
from gateway.ig.mount import build_ig_app
from gateway.issue import Issue
from gateway.keys import load_keyring
from gateway.policy.engine import PolicyEngine
from gateway.policy.loader import load_engine
from gateway.policy.source import read_policy
from gateway.policy.store import active_policy_source, keep_served_revision

logger = logging.getLogger("gateway")

#: The L&D service the demo registers: the author of the example document in /openapi.json.
DEMO_PUBLISHER = "LD-NE"


def create_app(
    settings: Settings | None = None,
    *,
    policy: PolicyEngine | None = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> FastAPI:
    """The application. ``monotonic`` drives the per-process caches (tests inject a clock)."""
    settings = settings or get_settings()
    keyring = load_keyring(settings.keys_dir)  # fails loudly until `ld-gateway init` has run
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    catalogue = load_catalogue(settings.resolved_schema_dir() / "field-catalogue.json")
    if policy is None:
        # An activated stored revision is the policy in force (gateway/policy/store.py); without one, the
        # configured directory is, and it is stored first: any log entry's revision can be fetched later.
        # Either way the policy is read once, and the engine and the store share what was read.
        active = unit_of_work.read(sessions, lambda tx: active_policy_source(tx, settings.data_dir))
        source = active or read_policy(settings.resolved_policy_dir(), catalogue.ids)
        policy = load_engine(settings, catalogue.ids, source=source)
        if active is None:
            keep_served_revision(sessions, source, now=_now())
    ensure_signing_key(settings.keys_dir)
    signing_key = SigningKeys(settings.keys_dir)  # follows `ld-gateway token-key rotate` in every process
    log_key = log_signer(settings, create=True)
    # Replay and revocation state lives in the database, shared by every gateway process.
    revocations = DatabaseRevocations(sessions, max_age=settings.revocation_cache_seconds, clock=monotonic)
    replay_cache = DatabaseReplayCache(sessions)
    dpop_nonces = (
        DpopNonces(load_or_create_secret(settings.keys_dir / DPOP_NONCE_FILE)) if settings.dpop_nonce else None
    )
    # Told of each released document inside the pull's own transaction (the notification outbox).
    agencies = AgencyDirectory()  # one cache of agencies for every use case
    requests = RequestService(
        sessions=sessions,
        keyring=keyring,
        notifier=make_notifier(settings.database_url),
        base_url=settings.issuer,
        subscriptions=Subscriptions(max_age=1.0, clock=monotonic),
        agencies=agencies,
    )
    gw = Gateway(
        settings=settings,
        sessions=sessions,
        keyring=keyring,
        signing_key=signing_key,
        policy=policy,
        catalogue=catalogue,
        assessment_schema=load_schema(settings.resolved_schema_dir()),
        disclosures=DisclosureService(
            sessions=sessions,
            keyring=keyring,
            engine=policy,
            catalogue=catalogue,
            receipts=ReceiptSigner(log_key),
            on_released=requests.disclosed_in,
            agencies=agencies,
        ),
        revocations=revocations,
        client_active=revocations.is_client_active,
        requests=requests,
        stream_revocations=DatabaseRevocations(sessions, max_age=stream_revocation.MAX_AGE),
        replay_cache=replay_cache,
        dpop_nonces=dpop_nonces,
        rate_limits=RateLimiter(settings.resource_rate_per_second, settings.resource_burst, clock=monotonic),
        agencies=agencies,
        log_signer=log_key,
    )

    def on_token_denied(client_id: str | None, error: str, reason: str) -> None:
        entry = NewEntry(
            event=AuditEvent.TOKEN_DENIED,
            outcome=Outcome.DENIED,
            created_at=_now(),
            client_id=client_id,
            reason=f"{error}:{reason}",
        )
        unit_of_work.run(sessions, lambda tx: log.append(tx, entry))

    webhook_worker = WebhookWorker(sessions, keyring)
    checkpointing = audit_api.checkpointing(settings, sessions, log_key)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Run by a real server (uvicorn), not by in-process test clients: they drive the worker themselves.
        webhook_worker.start()
        async with checkpointing(app):
            yield
        webhook_worker.stop()
        requests.notifier.stop()

    app = FastAPI(
        lifespan=lifespan,
        title="ld-gateway",
        version=__version__,
        description="Secure information sharing for Liaison and Diversion services.",
        docs_url=None,  # served by gateway.api.docs, with packaged assets
        redoc_url=None,
    )
    install(app, gw)
    gw.on_published = requests.on_published
    app.include_router(
        build_auth_router(
            settings=settings,
            session_factory=sessions,
            signing_key=signing_key,
            on_token_denied=on_token_denied,
            replay_cache=replay_cache,
            revocations=revocations,
            is_client_active=revocations.is_client_active,
            dpop_nonces=dpop_nonces,
            rate_limiter=RateLimiter(settings.token_rate_per_minute / 60, settings.token_burst, clock=monotonic),
        )
    )
    app.include_router(assessments.router)
    app.include_router(overrides.router)
    app.include_router(fhir.router)
    app.include_router(fhir_inbound.router)
    app.include_router(health.router)
    app.include_router(audit_api.router)
    app.include_router(audit_subjects_api.router)
    app.include_router(tasks.router)
    app.include_router(events.router)
    app.include_router(access.router)
    app.mount("/ig", build_ig_app(gw))
    docs.install(app)
    openapi.install(app, gw.assessment_schema, lambda: _examples(settings, catalogue))
    _install_error_handlers(app)
    app.add_middleware(FailClosed)  # first added, so innermost: the middleware below see its answer
    _install_request_guards(app, settings.max_body_bytes)
    install_request_logging(app)
    return app


def _now() -> datetime:
    return datetime.now(UTC)


def _examples(settings: Settings, catalogue: Catalogue) -> openapi.Examples:
    """The fictional adult of schemas/examples, as canonical JSON and as a FHIR document: the publish
    examples in /openapi.json (authored by the demo's L&D service)."""
    path = settings.resolved_schema_dir() / "examples" / "adult.json"
    loaded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    assessment: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
    return openapi.Examples(assessment, publishable_document(assessment, catalogue, DEMO_PUBLISHER))


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> Response:
        return exc.response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        issues = [
            Issue("invalid", str(err.get("msg")), ".".join(str(p) for p in err.get("loc", ()))) for err in exc.errors()
        ]
        if _is_oauth(request.url.path):
            return _oauth_error(400, "; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))
        return outcome_response(400, issues)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_oauth(request.url.path):
            return _oauth_error(exc.status_code, str(exc.detail))
        code = "not-found" if exc.status_code == 404 else "processing"
        return outcome_response(exc.status_code, [Issue(code, str(exc.detail))])


def _is_oauth(path: str) -> bool:
    return path == "/oauth2" or path.startswith("/oauth2/")


def _oauth_error(status: int, description: str) -> Response:
    """An error under /oauth2 in the shape OAuth clients parse (RFC 6749 section 5.2), whatever its status."""
    return JSONResponse(
        {"error": "invalid_request", "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


class FailClosed:
    """Innermost middleware: any exception the routes let through becomes a 503 OperationOutcome.

    It answers instead of re-raising, so the server never prints a traceback (whose messages could
    carry request data) and the outer middleware still log the request and add their headers.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error("unhandled error", extra={"fields": {"error": exc.__class__.__name__}})
            if not started:
                issue = Issue("transient", "The gateway could not complete the request.")
                await outcome_response(503, [issue])(scope, receive, send)


def _install_request_guards(app: FastAPI, limit: int) -> None:
    app.add_middleware(RequestGuards, limit=limit)


# API responses are data, never pages: no sniffing, no framing, no referrer leaks.
_API_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)


class RequestGuards:
    """Pure ASGI: bodies over the limit (or of unknown length) refused before they are read, and the
    API's security headers added to every response that does not set them itself."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await self._send_guarded(refusal, scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                extra = [(name, value) for name, value in _API_HEADERS if name not in present]
                if extra:
                    message = {**message, "headers": [*message.get("headers", ()), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _send_guarded(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in _API_HEADERS:
            response.headers.setdefault(name.decode(), value.decode())
        await response(scope, receive, send)

    def _refusal(self, scope: Scope) -> Response | None:
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in (b"content-length", b"transfer-encoding"):
                headers.setdefault(name, value)  # the first, as Starlette's Headers.get reads it
        length = headers.get(b"content-length")
        chunked = headers.get(b"transfer-encoding", b"").lower() == b"chunked"
        path = scope["path"]
        if length is None and chunked and scope["method"] in ("POST", "PUT", "PATCH"):
            # Without a length the limit cannot be enforced before reading: refuse (RFC 9110 411).
            message = "send Content-Length with the body"
            if _is_oauth(path):
                return _oauth_error(411, message)
            return outcome_response(411, [Issue("structure", message)])
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            message = f"request bodies are limited to {self.limit} bytes"
            if _is_oauth(path):
                return _oauth_error(413, message)
            return outcome_response(413, [Issue("too-costly", message)])
        return None
