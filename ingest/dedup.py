"""Deduplication memory: the ids of the last N uplinks, to store each uplink once.

A set answers "seen before?"; a ring of the same keys says which one to forget when a new one arrives. Unlike
an ``OrderedDict`` (whose table doubles again once it starts forgetting, and which keeps a linked node per key),
the set's table reaches its final size while the memory fills and keeps it: what the ingest process holds for
deduplication is flat from then on, at about a quarter of the ``OrderedDict``'s footprint.

This is the one deduplication of ingest: :class:`ingest.pipeline.Pipeline` consults it right after the envelope
is parsed (before the device lookup and the decoding), for the live service, the backfill and quarantine replay.
"""

from __future__ import annotations

DEDUP_WINDOW = 200_000  # uplink ids remembered to drop retransmissions and gateway duplicates


class RecentKeys:
    """The last ``capacity`` distinct keys added."""

    __slots__ = ("_keys", "_next", "_ring")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self._keys: set[str] = set()
        self._ring: list[str | None] = [None] * capacity
        self._next = 0

    def add(self, key: str) -> bool:
        """Remember ``key``; returns False if it is remembered already (a duplicate), True if it is new."""
        keys = self._keys
        if key in keys:
            return False
        ring, slot = self._ring, self._next
        oldest = ring[slot]
        if oldest is not None:
            keys.discard(oldest)
        ring[slot] = key
        keys.add(key)
        self._next = slot + 1 if slot + 1 < len(ring) else 0
        return True

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def capacity(self) -> int:
        """How many keys the window remembers."""
        return len(self._ring)
