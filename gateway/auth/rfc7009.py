"""Token revocation (RFC 7009): the list of revoked access tokens, keyed by ``jti``.

An entry is kept until the token would have expired anyway; after that, validation refuses the
token on its ``exp`` alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class RevocationList(Protocol):
    def revoke(self, jti: str, expires_at: float, client_id: str = "") -> None:
        """Refuse the token ``jti`` (issued to ``client_id``) from now until ``expires_at`` (its ``exp``)."""
        ...

    def is_revoked(self, jti: str) -> bool: ...

    def client_revoked(self, client_id: str) -> None:
        """``client_id`` was revoked (committed): stop honouring its live tokens in this process now."""
        ...


class InMemoryRevocationList:
    """A :class:`RevocationList` for one process (tests); the gateway uses
    :class:`gateway.auth.store.DatabaseRevocations`, shared by every process."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, jti: str, expires_at: float, client_id: str = "") -> None:
        now = self._clock()
        with self._lock:
            self._revoked = {k: t for k, t in self._revoked.items() if t > now}
            if expires_at > now:
                self._revoked[jti] = max(expires_at, self._revoked.get(jti, 0.0))

    def client_revoked(self, client_id: str) -> None:
        """Nothing to forget: this list caches no client state (whether a client is active is read per call)."""

    def is_revoked(self, jti: str) -> bool:
        with self._lock:
            until = self._revoked.get(jti)
        return until is not None and until > self._clock()
