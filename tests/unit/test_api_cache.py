"""The short-lived cache of latest values and device records: time-bounded, size-bounded, off at 0 s."""

from __future__ import annotations

from api.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_lives_for_its_time_only() -> None:
    clock = Clock()
    cache: TtlCache[str, int] = TtlCache(2.0, clock=clock)
    cache.put("a", 1)
    clock.now = 1.9
    assert cache.get("a") == 1
    clock.now = 2.0
    assert cache.get("a") is None


def test_the_least_recently_used_entry_leaves_first() -> None:
    cache: TtlCache[str, int] = TtlCache(60.0, size=2, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)


def test_a_zero_time_keeps_nothing() -> None:
    cache: TtlCache[str, int] = TtlCache(0.0, clock=Clock())
    cache.put("a", 1)
    assert cache.get("a") is None
