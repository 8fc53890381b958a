"""A small bounded map for per-process memos on the request path (oldest entry out first)."""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    """At most ``size`` entries; a full map drops its oldest entry. Reads take no lock (a dict read is
    atomic); writes do, so that two threads never evict the same entry."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: dict[K, V] = {}
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        with self._lock:
            if key not in self._items and len(self._items) >= self._size:
                del self._items[next(iter(self._items))]
            self._items[key] = value

    def __len__(self) -> int:
        return len(self._items)
