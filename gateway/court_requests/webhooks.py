"""Signed webhooks (Standard Webhooks): the durable, push side of request notifications.

Each notification is written, in the transaction that made the change, as one delivery row per
subscribed endpoint of each agency in its audience (an outbox: no commit, no delivery; a commit, a
delivery even if the process dies). A worker in every gateway process claims due deliveries (on
PostgreSQL with ``FOR UPDATE SKIP LOCKED``, so two processes never claim one row; on SQLite under the
write lock), sends them outside any transaction, and records each attempt in ``webhook_attempts``.

Signing follows the Standard Webhooks specification (https://www.standardwebhooks.com/), through the
``standardwebhooks`` package: headers ``webhook-id`` (the delivery id, constant across retries, for the
receiver's idempotency and replay check), ``webhook-timestamp`` (Unix seconds, of this attempt) and
``webhook-signature`` ``v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>``. Secrets are
``whsec_`` + base64 of 32 random bytes, shown once at registration and stored wrapped by the master key.

A failed attempt (network error, timeout, any non-2xx) is retried after :data:`BACKOFF` seconds
(5 s, 30 s, 2 min, 10 min, 30 min, 2 h); after the last the delivery is ``failed``. Bodies carry the
notification only: ids, status and links, never personal data.
"""

from __future__ import annotations

import base64
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.auth.registry import get_agency
from gateway.court_requests.notify import Notification
from gateway.db import unit_of_work
from gateway.db.models import Agency, WebhookAttempt, WebhookDelivery, WebhookSubscription
from gateway.keys import KeyRing, unwrap_key, wrap_key

if TYPE_CHECKING:
    import httpx

logger = logging.getLogger("gateway.court_requests")

SECRET_PREFIX = "whsec_"
BACKOFF: tuple[int, ...] = (5, 30, 120, 600, 1800, 7200)
LEASE = timedelta(seconds=60)  # a claimed delivery is retried by anyone after this, should its worker die
TIMEOUT = 10.0


class WebhookError(ValueError):
    """A registration that cannot be accepted (bad URL, unknown agency)."""


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    url: str
    secret: str
    body: str
    attempt: int


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt."""
    from standardwebhooks.webhooks import Webhook  # here: only a delivery needs it

    signature = Webhook(secret).sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": signature}


def payload(notification: Notification, now: datetime) -> str:
    """The body: Standard Webhooks' recommended ``{type, timestamp, data}`` shape."""
    data = {k: v for k, v in notification.public().items() if k not in ("type",)}
    return json.dumps(
        {"type": notification.type, "timestamp": now.isoformat(), "data": data}, sort_keys=True, separators=(",", ":")
    )


def _secret_aad(subscription_id: str) -> str:
    return f"webhook:{subscription_id}"


def add_subscription(session: Session, keyring: KeyRing, agency_code: str, url: str, now: datetime) -> tuple[str, str]:
    """Register an endpoint for an agency; returns its id and its secret (shown this once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.username or parts.password:
        raise WebhookError("the URL must be http(s)://host/... without credentials")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise WebhookError("plain http is allowed only to this machine (127.0.0.1, localhost); use https")
    agency = get_agency(session, agency_code)
    if agency is None:
        raise WebhookError(f"no agency with code {agency_code}")
    subscription_id, secret = str(uuid.uuid4()), new_secret()
    session.add(
        WebhookSubscription(
            id=subscription_id,
            agency_id=agency.id,
            url=url,
            wrapped_secret=wrap_key(keyring.master_key, secret.encode(), _secret_aad(subscription_id)),
            created_at=now,
        )
    )
    session.flush()
    return subscription_id, secret


def disable_subscription(session: Session, subscription_id: str, now: datetime) -> bool:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or row.disabled_at is not None:
        return False
    row.disabled_at = now
    return True


class Subscriptions:
    """The active endpoints of every agency, read at most once per ``max_age`` seconds per process.

    A registration or a disable is seen by every process within ``max_age`` (1 s, as revocations), and
    at once in the process that made it (:meth:`invalidate`); in between, the hot path (a pull tells its
    publisher) reads no subscription rows at all.
    """

    def __init__(self, max_age: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age = max_age
        self._clock = clock
        self._loaded_at: float | None = None
        self._by_code: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def ids_for(self, session: Session, codes: Iterable[str]) -> list[str]:
        now = self._clock()
        with self._lock:
            fresh = self._loaded_at is not None and now - self._loaded_at < self._max_age
            by_code = self._by_code
        if not fresh:
            rows = session.execute(
                select(Agency.code, WebhookSubscription.id)
                .join(Agency, Agency.id == WebhookSubscription.agency_id)
                .where(WebhookSubscription.disabled_at.is_(None))
            ).all()
            loaded: dict[str, list[str]] = {}
            for code, subscription_id in rows:
                loaded.setdefault(code, []).append(subscription_id)
            by_code = {code: tuple(ids) for code, ids in loaded.items()}
            with self._lock:
                self._by_code, self._loaded_at = by_code, now
        return [sid for code in codes for sid in by_code.get(code, ())]

    def invalidate(self) -> None:
        with self._lock:
            self._loaded_at = None


def enqueue(
    session: Session, notification: Notification, now: datetime, subscriptions: Subscriptions | None = None
) -> int:
    """One pending delivery per active endpoint of each agency in the audience, in the caller's transaction."""
    if subscriptions is not None:
        ids = subscriptions.ids_for(session, notification.audience)
    else:
        ids = list(
            session.execute(
                select(WebhookSubscription.id)
                .join(Agency, Agency.id == WebhookSubscription.agency_id)
                .where(Agency.code.in_(notification.audience), WebhookSubscription.disabled_at.is_(None))
            ).scalars()
        )
    if not ids:
        return 0
    body = payload(notification, now)
    session.execute(
        insert(WebhookDelivery),
        [
            {
                "id": str(uuid.uuid4()),
                "subscription_id": subscription_id,
                "event_type": notification.type,
                "body": body,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for subscription_id in ids
        ],
    )
    return len(ids)


def claim_due(session: Session, keyring: KeyRing, now: datetime, limit: int = 20) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries to this worker (commit the session to publish the lease)."""
    rows = (
        session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.state == "pending", WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        .scalars()
        .all()
    )
    claimed = []
    for row in rows:
        subscription = session.get(WebhookSubscription, row.subscription_id)
        assert subscription is not None
        if subscription.disabled_at is not None:
            row.state = "cancelled"
            continue
        row.attempts += 1
        row.next_attempt_at = now + LEASE
        secret = unwrap_key(keyring.master_key, subscription.wrapped_secret, _secret_aad(subscription.id)).decode()
        claimed.append(Claimed(row.id, subscription.url, secret, row.body, row.attempts))
    return claimed


def record(
    session: Session,
    claimed: Claimed,
    now: datetime,
    *,
    status_code: int | None,
    error: str | None,
    backoff: Sequence[int] = BACKOFF,
) -> None:
    """Log the attempt and settle the delivery: delivered, retried later, or failed for good."""
    ok = status_code is not None and 200 <= status_code < 300
    session.add(
        WebhookAttempt(
            delivery_id=claimed.delivery_id, attempt=claimed.attempt, at=now, status_code=status_code, error=error
        )
    )
    row = session.get(WebhookDelivery, claimed.delivery_id)
    assert row is not None
    row.last_status_code = status_code
    if ok:
        row.state, row.delivered_at = "delivered", now
    elif claimed.attempt > len(backoff):
        row.state = "failed"
    else:
        row.next_attempt_at = now + timedelta(seconds=backoff[claimed.attempt - 1])


class WebhookWorker:
    """Claims due deliveries, sends them signed, records each attempt. ``run_once`` is the whole step."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: KeyRing,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        http: httpx.Client | None = None,
        backoff: Sequence[int] = BACKOFF,
        poll_seconds: float = 2.0,
    ) -> None:
        self._sessions = sessions
        self._keyring = keyring
        self._clock = clock
        # No redirects: a signed delivery goes to the registered URL or nowhere.
        self._http = http  # made at the first delivery: most gateways never send one
        self._backoff = tuple(backoff)
        self._poll = poll_seconds
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        # Claimed in one unit, sent with none open (a slow endpoint holds no lock), each attempt in its own.
        claimed = unit_of_work.run(self._sessions, lambda tx: claim_due(tx, self._keyring, self._clock()))
        for item in claimed:
            status_code, error = self._send(item)
            unit_of_work.run(
                self._sessions,
                partial(
                    record, claimed=item, now=self._clock(), status_code=status_code, error=error, backoff=self._backoff
                ),
            )
        return len(claimed)

    def _send(self, item: Claimed) -> tuple[int | None, str | None]:
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            **signature_headers(item.secret, item.delivery_id, timestamp, item.body),
        }
        import httpx  # here, not at the top: megabytes of every serving process, for deliveries only

        if self._http is None:
            self._http = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        try:
            response = self._http.post(item.url, content=item.body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            return None, type(exc).__name__  # the type only: messages can echo the URL's query string
        return response.status_code, None if response.is_success else f"http-{response.status_code}"

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="ld-gateway-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(TIMEOUT + 5)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.run_once()
            except Exception as exc:
                logger.warning("webhook worker step failed", extra={"fields": {"error": type(exc).__name__}})
                busy = 0
            if not busy:
                self._wake.wait(self._poll)
                self._wake.clear()
