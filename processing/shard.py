"""Which sites a processing worker owns (``--shard i/n``): a stable hash of the site, the same on every machine.

A module of its own so that the command line reads the option without loading the service.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    """Worker ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise ValueError(f"shard must be i/n with 0 <= i < n, got {self.index}/{self.count}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"1/4"`` → Shard(1, 4).

        Raises:
            ValueError: not of the form i/n with 0 <= i < n.
        """
        index, _, count = text.partition("/")
        try:
            return cls(int(index), int(count))
        except ValueError as exc:
            raise ValueError(f"shard must be i/n with 0 <= i < n, got {text!r}") from exc

    def owns(self, key: str) -> bool:
        """Whether this worker owns the site with this key (a stable CRC-32 hash, the same on every machine)."""
        return zlib.crc32(key.encode()) % self.count == self.index
