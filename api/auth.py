"""Who is calling: key lookup with a short cache, last use recorded once a minute, rate limits per caller.

No web framework here; :mod:`api.deps` turns these into FastAPI dependencies.

Caching and revocation: a key's record is reused for ``ttl`` seconds (``STADTPULS_API_KEY_CACHE_SECONDS``, 10 s by
default) after it was read, so a revocation by ``stadtpuls keys revoke`` in another process takes effect within
that time; a revocation through this process's own :meth:`KeyCache.forget` at once. Expiry is checked on every
request against the cached record. Unknown keys are cached too (bounded), so guessing does not hit the database
at request rate.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from api.keys import KeyRecord, KeyStore, Role, hash_key

TOUCH_EVERY = 60.0  # s between two writes of one key's last use
MAX_CACHED = 10_000  # key lookups kept (known and unknown keys)
MAX_BUCKETS = 10_000  # callers whose rate is tracked at once; the oldest is forgotten first


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller of a request: a key's holder, or an anonymous caller of the public routes."""

    key_id: int | None  # None: anonymous
    name: str
    role: Role | None  # None: anonymous
    municipality: str | None  # None: every municipality (admin, or anonymous on open data)

    @property
    def anonymous(self) -> bool:
        """Whether the caller sent no key (public open-data routes only)."""
        return self.key_id is None

    def may(self, role: Role) -> bool:
        """Whether the caller's role covers ``role``."""
        return self.role is not None and self.role.covers(role)

    def sees(self, municipality: str) -> bool:
        """Whether data of ``municipality`` is visible to the caller."""
        return self.municipality is None or self.municipality == municipality

    def scope(self, requested: str | None) -> tuple[str | None, bool]:
        """The municipality filter for a query, and whether anything can be visible at all.

        A key of one municipality asking for another sees nothing, exactly as if that municipality had no data.
        """
        if self.municipality is None:
            return requested, True
        if requested is None or requested == self.municipality:
            return self.municipality, True
        return self.municipality, False


def principal_of(record: KeyRecord) -> Principal:
    """The principal a stored key stands for."""
    return Principal(key_id=record.id, name=record.name, role=record.role, municipality=record.municipality)


ANONYMOUS = Principal(key_id=None, name="anonymous", role=None, municipality=None)


class KeyCache:
    """Looks keys up in the store off the event loop, reuses each answer for ``ttl`` seconds."""

    def __init__(
        self, store: KeyStore, *, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._entries: OrderedDict[str, tuple[KeyRecord | None, float]] = OrderedDict()
        self._touched: dict[int, float] = {}
        self.lookups = 0  # store lookups so far (a counter for tests and metrics)

    async def resolve(self, secret: str) -> KeyRecord | None:
        """The usable key of ``secret``, or None when it is unknown, revoked or expired."""
        digest = hash_key(secret)
        now = self._clock()
        entry = self._entries.get(digest)
        if entry is None or now - entry[1] >= self._ttl:
            self.lookups += 1
            record = await asyncio.to_thread(self._store.lookup, secret)
            entry = (record, now)
            self._entries[digest] = entry
            while len(self._entries) > MAX_CACHED:
                self._entries.popitem(last=False)
        self._entries.move_to_end(digest)
        record = entry[0]
        if record is None or not record.usable(datetime.now(UTC)):
            return None
        await self._touch(record.id, now)
        return record

    def forget(self, key_id: int) -> None:
        """Drop every cached lookup of a key (after revoking it in this process)."""
        for digest in [d for d, (r, _) in self._entries.items() if r is not None and r.id == key_id]:
            del self._entries[digest]

    async def _touch(self, key_id: int, now: float) -> None:
        last = self._touched.get(key_id)
        if last is not None and now - last < TOUCH_EVERY:
            return
        self._touched[key_id] = now
        await asyncio.to_thread(self._store.touch, {key_id: datetime.now(UTC)})


class RateLimiter:
    """A token bucket per caller: ``per_minute`` requests a minute on average, ``burst`` at once."""

    def __init__(self, per_minute: int, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_minute / 60.0  # tokens per second
        self._burst = float(burst)
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # caller → (tokens, time)

    def take(self, caller: str) -> float:
        """Spend one token of ``caller``; 0 when allowed, else the seconds until the next token (≥ 1, whole)."""
        now = self._clock()
        tokens, then = self._buckets.get(caller, (self._burst, now))
        tokens = min(self._burst, tokens + (now - then) * self._rate)
        if tokens >= 1.0:
            self._buckets[caller] = (tokens - 1.0, now)
            self._buckets.move_to_end(caller)
            while len(self._buckets) > MAX_BUCKETS:
                self._buckets.popitem(last=False)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return float(max(1, math.ceil((1.0 - tokens) / self._rate)))
