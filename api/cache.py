"""A small time-bounded cache for answers that may be a moment old (latest values, device records).

Entries live ``ttl`` seconds; at most ``size`` are kept, the least recently used leaves first. Concurrent misses
of one key share one load (:meth:`TtlCache.fetch`), so an entry that runs out under load is read again once, not
once per waiting request. No web framework.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    """Key → value for ``ttl`` seconds, bounded to ``size`` entries."""

    def __init__(self, ttl: float, *, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[K, tuple[V, float]] = OrderedDict()
        self._loading: dict[K, asyncio.Future[V]] = {}  # keys being loaded: at most one load per key

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

    async def fetch(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The value under ``key``; on a miss, ``load()``'s result, kept for ``ttl``.

        Requests that miss while a load of the same key is running wait for that load instead of starting
        their own; a failed load reaches each of them and keeps nothing. A waiter that is cancelled (its
        client went away) does not cancel the load of the others. With ``ttl`` 0 every call loads.
        """
        value = self.get(key)
        if value is not None:
            return value
        if self._ttl <= 0:
            return await load()
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._load(key, load))
            pending.add_done_callback(_retrieve)
            self._loading[key] = pending
        return await asyncio.shield(pending)

    async def _load(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await load()
            self.put(key, value)
            return value
        finally:
            del self._loading[key]

    def clear(self) -> None:
        """Forget everything."""
        self._entries.clear()


def _retrieve(done: asyncio.Future[Any]) -> None:
    """Mark a load's exception as seen: its waiters may all have gone away."""
    if not done.cancelled():
        done.exception()
