"""Ending an open event stream when its access token or its client is revoked, on every process.

A stream outlives the request that authenticated it (up to the token's 300 s), so the check made at
the start is not enough: the stream looks again every ``CHECK_SECONDS``. It asks the database through
a revocation view of its own, at most ``MAX_AGE`` seconds old and shared by every stream of the process
(one query pair per ``MAX_AGE`` however many streams are open), so a revocation committed by any
process (``ld-gateway client revoke``, ``POST /oauth2/revoke``, the IG pages) ends the stream within
``CHECK_SECONDS + MAX_AGE`` (under 1 s). Polling rather than LISTEN/NOTIFY: it works the same on
SQLite, and a missed notification cannot leave a revoked stream open.
"""

from __future__ import annotations

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from gateway.auth.rfc9068 import AccessContext
from gateway.auth.store import DatabaseRevocations
from gateway.context import gateway_of

CHECK_SECONDS = 0.25
MAX_AGE = 0.5
#: Sent as the stream's last event when it ends because of a revocation.
REVOKED_FRAME = b"event: revoked\ndata: {}\n\n"


def _still_live(revocations: DatabaseRevocations, ctx: AccessContext) -> bool:
    return not revocations.is_revoked(ctx.token_id) and revocations.is_client_active(ctx.client_id)


async def still_live(request: Request, ctx: AccessContext) -> bool:
    """False once the token or its client has been revoked (by any process)."""
    # The view is the Gateway's stream_revocations, made by the app factory with MAX_AGE.
    return await run_in_threadpool(_still_live, gateway_of(request).stream_revocations, ctx)
