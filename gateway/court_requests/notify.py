"""Notifications: what happened to a request, fanned out to whoever may know, carrying no personal data.

A :class:`Notification` holds ids, a status and links only, plus the agency codes allowed to see it
(its audience, which never leaves the gateway). It is published *inside* the transaction that made the
change and delivered only if that transaction commits:

- :class:`PostgresNotifier` sends it with ``pg_notify`` (delivered by PostgreSQL at commit to every
  process that ``LISTEN``s, this one included) and runs one listening connection per process
  (psycopg 3) that feeds the local :class:`Hub`;
- :class:`LocalNotifier` (SQLite, one process) hands it to the local hub from an ``after_commit`` hook.

Each hub keeps the notifications of the last :data:`REPLAY_SECONDS` (longer than an access token
lives), so a subscriber that reconnects with a new token and ``Last-Event-ID`` is sent what it missed
in between. Beyond that window (or after a process restart, or with an id this process never saw), the
stream says ``replay-incomplete`` and the subscriber re-reads its queue with ``GET /fhir/Task?status=...``
(which is the source of truth). A subscriber whose queue overflows is cut off the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

logger = logging.getLogger("gateway.court_requests")

CHANNEL = "ld_gateway_events"
QUEUE_LIMIT = 1000
# Twice the longest access token lifetime (300 s): a watcher renews its token and reconnects well within it.
REPLAY_SECONDS = 600.0
REPLAY_LIMIT = 10_000


@dataclass(frozen=True)
class Notification:
    type: str
    task: str | None = None
    status: str | None = None
    link: str | None = None
    output: str | None = None
    assessment: str | None = None
    version: int | None = None
    disclosure: str | None = None
    agency: str | None = None
    purpose: str | None = None
    audience: tuple[str, ...] = ()
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def public(self) -> dict[str, Any]:
        """What a subscriber sees: everything but the audience, and nothing empty."""
        return {k: v for k, v in asdict(self).items() if k != "audience" and v is not None}

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "audience": list(self.audience)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Notification:
        data = json.loads(raw)
        data["audience"] = tuple(data.get("audience") or ())
        return cls(**data)


class Subscription:
    """One subscriber's queue, filled from any thread, read on its own event loop."""

    def __init__(self, hub: Hub, wants: Callable[[Notification], bool]) -> None:
        self._hub = hub
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Notification | None] = asyncio.Queue(QUEUE_LIMIT)
        self.wants = wants

    def offer(self, notification: Notification) -> None:
        def put() -> None:
            try:
                self._queue.put_nowait(notification)
            except asyncio.QueueFull:
                # A subscriber that cannot keep up is cut off (its stream ends) rather than slow everyone.
                self._hub.unsubscribe(self)
                self._queue.get_nowait()
                self._queue.put_nowait(None)

        try:
            self._loop.call_soon_threadsafe(put)
        except RuntimeError:  # its loop has closed: the client has gone
            self._hub.unsubscribe(self)

    def end(self) -> None:
        """Cut this subscriber off: its next :meth:`next` raises ``EOFError`` (callable from any thread)."""

        def put() -> None:
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    self._queue.get_nowait()
            self._queue.put_nowait(None)

        with contextlib.suppress(RuntimeError):  # its loop has closed: the client has gone
            self._loop.call_soon_threadsafe(put)

    async def next(self, timeout: float) -> Notification | None:
        """The next notification, or ``None`` on timeout; raises ``EOFError`` once cut off."""
        try:
            item = await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None
        if item is None:
            raise EOFError
        return item

    def close(self) -> None:
        self._hub.unsubscribe(self)


class Hub:
    """In-process fan-out to subscribers, with the recent past kept for those who reconnect."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._closed = False
        self._clock = clock
        self._recent: deque[tuple[float, Notification]] = deque(maxlen=REPLAY_LIMIT)

    def subscribe(self, wants: Callable[[Notification], bool]) -> Subscription:
        subscription = Subscription(self, wants)
        with self._lock:
            closed = self._closed
            if not closed:
                self._subscribers.add(subscription)
        if closed:
            subscription.end()
        return subscription

    def close(self) -> None:
        """End every subscription, and every later one at once: the server is shutting down, and an
        open event stream would otherwise hold the shutdown until its token expired."""
        with self._lock:
            self._closed = True
            subscribers, self._subscribers = list(self._subscribers), set()
        for subscription in subscribers:
            subscription.end()

    def subscribe_after(
        self, wants: Callable[[Notification], bool], last_event_id: str
    ) -> tuple[Subscription, list[Notification] | None]:
        """Subscribe, and return what ``wants`` missed since ``last_event_id`` (oldest first), or None
        when that id is no longer (or never was) in the replay window. One lock covers both, so nothing
        published meanwhile is missed or sent twice."""
        subscription = Subscription(self, wants)
        with self._lock:
            closed = self._closed
            if not closed:
                self._prune()
                self._subscribers.add(subscription)
                ids = [n.id for _, n in self._recent]
                after = list(self._recent)[ids.index(last_event_id) + 1 :] if last_event_id in ids else None
        if closed:
            subscription.end()
            return subscription, []
        return subscription, None if after is None else [n for _, n in after if wants(n)]

    def _prune(self) -> None:
        horizon = self._clock() - REPLAY_SECONDS
        while self._recent and self._recent[0][0] < horizon:
            self._recent.popleft()

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    def dispatch(self, notification: Notification) -> None:
        with self._lock:
            self._recent.append((self._clock(), notification))
            self._prune()
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            if subscription.wants(notification):
                subscription.offer(notification)


class Notifier(Protocol):
    hub: Hub

    def publish(self, session: Session, notification: Notification) -> None:
        """Deliver ``notification`` if and when ``session``'s transaction commits."""

    def start(self) -> None:
        """Begin receiving notifications from other processes (idempotent; blocks until listening)."""

    def stop(self) -> None: ...


class LocalNotifier:
    """One process (SQLite): the hub is fed when the publishing transaction commits."""

    def __init__(self) -> None:
        self.hub = Hub()

    def publish(self, session: Session, notification: Notification) -> None:
        # Delivered by the Session-wide hooks below. A hook registered on each publishing session cost
        # more than the rest of the notice: every pull that releases a document publishes one.
        session.info.setdefault(_PENDING, []).append((self.hub, notification))

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None


#: Notifications a session's transaction published, with the hub each goes to once it commits.
_PENDING = "ld_notifications"


@event.listens_for(Session, "after_commit")
def _deliver(session: Session) -> None:
    for hub, notification in session.info.pop(_PENDING, ()):
        hub.dispatch(notification)


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_PENDING, None)


_NOTIFY = text("SELECT pg_notify(:channel, :payload)")


class PostgresNotifier:
    """Several processes sharing PostgreSQL: ``pg_notify`` in the transaction, one ``LISTEN`` per process."""

    def __init__(self, database_url: str) -> None:
        self.hub = Hub()
        # psycopg wants a libpq URL, not SQLAlchemy's "postgresql+psycopg" dialect name.
        self._dsn = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()

    def publish(self, session: Session, notification: Notification) -> None:
        # On the transaction's connection, a statement built once: a pull that releases a document
        # publishes one, and the ORM's execution layer around a plain SELECT cost more than running it.
        session.connection().execute(_NOTIFY, {"channel": CHANNEL, "payload": notification.to_json()})

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._listen, name="ld-gateway-listen", daemon=True)
                self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("could not LISTEN for notifications")

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(5)

    def _listen(self) -> None:
        import psycopg  # imported here: SQLite deployments never need the driver loaded

        while not self._stopping.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._ready.set()
                    while not self._stopping.is_set():
                        for note in conn.notifies(timeout=1.0):
                            self._deliver(note.payload)
            except Exception as exc:
                # Reconnect after a pause; events sent meanwhile are missed (delivery is at most once).
                self._ready.clear()
                logger.warning("notification listener reconnecting", extra={"fields": {"error": type(exc).__name__}})
                self._stopping.wait(1.0)

    def _deliver(self, payload: str) -> None:
        try:
            notification = Notification.from_json(payload)
        except (ValueError, TypeError):
            logger.warning("ignored a malformed notification")
            return
        self.hub.dispatch(notification)


def make_notifier(database_url: str) -> Notifier:
    if database_url.startswith("postgresql"):
        return PostgresNotifier(database_url)
    return LocalNotifier()
