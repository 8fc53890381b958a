"""``GET /events``: server-sent events (WHATWG HTML, "Server-sent events") about requests.

A subscriber hears only about requests it is a party to: its own requests (as requester) and the
requests made to it (as the owning L&D service). Each event carries ids, a status and links, never
personal data; the subscriber reads the Task (or pulls the Bundle) through the ordinary routes, where
the policy and the log apply. The stream ends when the access token expires: reconnect with a new one
and the ``Last-Event-ID`` header (the id of the last event received), and the events missed in between
are sent first (see gateway.court_requests.notify: the replay window outlasts a token). When they cannot be,
the stream says so with a ``replay-incomplete`` event: re-read your queue (``GET /fhir/Task``).
The stream also ends within a second of the token or its client being revoked (``event: revoked``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from time import monotonic

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import stream_revocation
from gateway.api.security import require_access
from gateway.audit.events import AuditEvent
from gateway.auth.rfc9068 import AccessContext
from gateway.auth.vocab import Scope
from gateway.context import gateway_of
from gateway.court_requests.notify import Notification, Notifier, Subscription

router = APIRouter(tags=["requests"])

KEEP_ALIVE_SECONDS = 15.0


def sse_frame(notification: Notification) -> bytes:
    data = json.dumps(notification.public(), sort_keys=True, separators=(",", ":"))
    return f"id: {notification.id}\nevent: {notification.type}\ndata: {data}\n\n".encode()


@router.get("/events")
async def events(request: Request) -> Response:
    ctx = await run_in_threadpool(require_access, request, Scope.TASK_READ, AuditEvent.EVENTS_DENIED)
    notifier: Notifier = gateway_of(request).requests.notifier
    await run_in_threadpool(notifier.start)
    wants = _audience(ctx.agency_code)
    last_event_id = request.headers.get("Last-Event-ID", "").strip()
    missed: list[Notification] | None = []
    if last_event_id:
        subscription, missed = notifier.hub.subscribe_after(wants, last_event_id)
    else:
        subscription = notifier.hub.subscribe(wants)
    return StreamingResponse(
        _stream(request, ctx, subscription, missed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _audience(agency_code: str) -> Callable[[Notification], bool]:
    return lambda n: agency_code in n.audience


async def _stream(
    request: Request, ctx: AccessContext, subscription: Subscription, missed: list[Notification] | None = None
) -> AsyncIterator[bytes]:

    try:
        # A first comment tells the client it is subscribed: events from now on will reach it.
        yield b": subscribed\nretry: 2000\n\n"
        if missed is None:
            yield b"event: replay-incomplete\ndata: {}\n\n"
        for earlier in missed or ():
            yield sse_frame(earlier)
        quiet_since = monotonic()
        while True:
            remaining = (ctx.expires_at - datetime.now(UTC)).total_seconds()
            if remaining <= 0:
                yield b"event: token-expired\ndata: {}\n\n"
                return
            if await request.is_disconnected():
                return
            if not await stream_revocation.still_live(request, ctx):
                yield stream_revocation.REVOKED_FRAME
                return
            try:
                notification = await subscription.next(min(stream_revocation.CHECK_SECONDS, remaining))
            except EOFError:
                return
            if notification is not None:
                yield sse_frame(notification)
                quiet_since = monotonic()
            elif monotonic() - quiet_since >= KEEP_ALIVE_SECONDS:
                yield b": keep-alive\n\n"
                quiet_since = monotonic()
    finally:
        subscription.close()
