"""Verifying the gateway's signed webhooks on the receiving side (Standard Webhooks, v1 HMAC-SHA256).

An agency's endpoint calls :meth:`WebhookVerifier.verify` with the raw body bytes and the headers,
before parsing anything. It refuses, with :class:`WebhookRejected` naming why:

- a missing or malformed ``webhook-id`` / ``webhook-timestamp`` / ``webhook-signature`` header;
- a timestamp further than ``tolerance`` seconds from the receiver's clock (stale or from the future);
- no ``v1`` signature that matches HMAC-SHA256(secret, "{id}.{timestamp}.{body}") (constant-time compare);
- a ``webhook-id`` already accepted within the tolerance window: a **replay**. Ids older than the window
  need not be remembered, because their timestamps are refused as stale anyway.

The gateway retries a delivery it could not complete with the *same* ``webhook-id`` (fresh timestamp and
signature). A receiver that verified a delivery but then failed to process it (and answers non-2xx) calls
:meth:`WebhookVerifier.release` so that the retry is accepted rather than taken for a replay.

The signature is computed with the ``standardwebhooks`` package (the specification's reference
library); the clock, the tolerance and the replay memory are this module's, so they can be tested.
The body is a notification: ids, a status and links, never personal data; follow ``data.link`` with
the agency's own token to read the request.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

DEFAULT_TOLERANCE = 300


class WebhookRejected(Exception):
    """The delivery is not authentic, not fresh, or already seen; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReplayCache:
    """Message ids accepted recently, each remembered until its timestamp could no longer pass."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def add_if_new(self, message_id: str, forget_at: float, now: float) -> bool:
        with self._lock:
            for key in [k for k, until in self._seen.items() if until < now]:
                del self._seen[key]
            if message_id in self._seen:
                return False
            self._seen[message_id] = forget_at
            return True

    def discard(self, message_id: str) -> None:
        with self._lock:
            self._seen.pop(message_id, None)


class WebhookVerifier:
    def __init__(
        self,
        secret: str,
        *,
        tolerance: int = DEFAULT_TOLERANCE,
        clock: Callable[[], float] = time.time,
        replays: ReplayCache | None = None,
    ) -> None:
        self._webhook = Webhook(secret)
        self._tolerance = tolerance
        self._clock = clock
        self._replays = replays or ReplayCache()

    def release(self, message_id: str) -> None:
        """Forget an accepted id whose processing failed, so the sender's retry is not a replay."""
        self._replays.discard(message_id)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
        lowered = {k.lower(): v for k, v in headers.items()}
        message_id = lowered.get("webhook-id", "")
        stamp = lowered.get("webhook-timestamp", "")
        signatures = lowered.get("webhook-signature", "")
        if not message_id or not stamp or not signatures:
            raise WebhookRejected("missing-headers")
        if not stamp.isdigit():
            raise WebhookRejected("bad-timestamp")
        timestamp, now = int(stamp), self._clock()
        if timestamp < now - self._tolerance:
            raise WebhookRejected("stale-timestamp")
        if timestamp > now + self._tolerance:
            raise WebhookRejected("future-timestamp")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise WebhookRejected("bad-signature") from None
        expected = self._webhook.sign(message_id, datetime.fromtimestamp(timestamp, UTC), text).split(",", 1)[1]
        if not any(_matches(candidate, expected) for candidate in signatures.split(" ")):
            raise WebhookRejected("bad-signature")
        # Only an authentic message is remembered, so forged ids cannot fill or poison the cache.
        if not self._replays.add_if_new(message_id, timestamp + self._tolerance, now):
            raise WebhookRejected("replay")
        try:
            parsed = json.loads(text)
        except ValueError:
            raise WebhookRejected("bad-body") from None
        if not isinstance(parsed, dict):
            raise WebhookRejected("bad-body")
        return parsed


def _matches(candidate: str, expected_b64: str) -> bool:
    version, _, value = candidate.partition(",")
    if version != "v1":
        return False
    try:
        given = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return hmac.compare_digest(given, base64.b64decode(expected_b64))
