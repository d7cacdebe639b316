"""A small time-bounded cache for answers that may be a moment old (latest values, device records).

Entries live ``ttl`` seconds; at most ``size`` are kept, the least recently used leaves first. No web framework.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Key → value for ``ttl`` seconds, bounded to ``size`` entries."""

    def __init__(self, ttl: float, *, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value stored under ``key`` if it is younger than ``ttl``, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() - entry[1] >= self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: K, value: V) -> None:
        """Store ``value`` (nothing is kept when ``ttl`` is 0)."""
        if self._ttl <= 0:
            return
        self._entries[key] = (value, self._clock())
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()
