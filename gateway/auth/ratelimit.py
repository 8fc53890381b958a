"""Per-client rate limits: a token bucket per (client, endpoint class), in this process.

A bucket holds up to ``burst`` requests and refills at ``rate`` per second; a request that finds it
empty is refused with the seconds until the next token (``Retry-After``, RFC 9110 section 10.2.3).

Buckets are per process: behind a load balancer with N gateway processes a client gets up to N times
the rate (the balancer's own limits, or sticky routing, bound the total). Buckets exist only for
clients that have authenticated, so their number is bounded by the registered clients.

Logging refusals without letting a flood write the log: the first refusal of a client in an endpoint
class is logged, and then at most one per ``log_interval`` seconds, saying how many refusals went
unlogged since the last entry. A client hammering the gateway writes one log entry a minute, not one
per request, and the log still shows when it started, that it went on, and how much.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

#: How often, at most, one client's refusals in one endpoint class reach the disclosure log.
LOG_INTERVAL = 60.0


@dataclass(frozen=True)
class Limited:
    """A refusal: retry after ``retry_after`` seconds. ``log`` says whether to log this one; ``unlogged``
    counts the refusals since the last logged one."""

    retry_after: int
    log: bool
    unlogged: int


@dataclass
class _Bucket:
    tokens: float
    updated: float
    last_logged: float = -math.inf
    unlogged: int = 0


class RateLimiter:
    """Token buckets keyed by any hashable key (here ``(endpoint class, client_id)``)."""

    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        log_interval: float = LOG_INTERVAL,
        max_keys: int | None = None,
    ) -> None:
        self.rate = rate
        # Keyed by something an unauthenticated caller chooses (an address, a username typed in), the
        # buckets need a bound: past it the oldest bucket is forgotten (it starts full again).
        self.max_keys = max_keys
        self.burst = burst
        self._clock = clock
        self._log_interval = log_interval
        self._buckets: dict[object, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def take(self, key: object) -> Limited | None:
        """Spend one request for ``key``: None when allowed, :class:`Limited` when refused."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if self.max_keys is not None and len(self._buckets) >= self.max_keys:
                    del self._buckets[next(iter(self._buckets))]
                bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.rate))
            if now - bucket.last_logged >= self._log_interval:
                unlogged, bucket.unlogged, bucket.last_logged = bucket.unlogged, 0, now
                return Limited(retry_after, True, unlogged)
            bucket.unlogged += 1
            return Limited(retry_after, False, bucket.unlogged)
