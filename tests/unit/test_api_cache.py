"""The short-lived cache of latest values and device records: time-bounded, size-bounded, off at 0 s."""

from __future__ import annotations

import asyncio

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


async def test_concurrent_misses_of_one_key_load_once() -> None:
    cache: TtlCache[str, int] = TtlCache(2.0, clock=Clock())
    release = asyncio.Event()
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        await release.wait()
        return 7

    waiting = [asyncio.create_task(cache.fetch("a", load)) for _ in range(5)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [7] * 5
    assert loads == 1
    assert await cache.fetch("a", load) == 7
    assert loads == 1  # kept for its time


async def test_a_failed_load_reaches_every_waiter_and_is_not_kept() -> None:
    cache: TtlCache[str, int] = TtlCache(2.0, clock=Clock())
    release = asyncio.Event()

    async def fail() -> int:
        await release.wait()
        raise RuntimeError("store down")

    waiting = [asyncio.create_task(cache.fetch("a", fail)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert [str(o) for o in outcomes] == ["store down"] * 3

    async def ok() -> int:
        return 1

    assert await cache.fetch("a", ok) == 1


async def test_a_cancelled_waiter_does_not_cancel_the_load_of_the_others() -> None:
    cache: TtlCache[str, int] = TtlCache(2.0, clock=Clock())
    release = asyncio.Event()

    async def load() -> int:
        await release.wait()
        return 3

    first = asyncio.create_task(cache.fetch("a", load))
    second = asyncio.create_task(cache.fetch("a", load))
    await asyncio.sleep(0)
    first.cancel()
    release.set()
    assert await second == 3
    assert cache.get("a") == 3


async def test_with_a_zero_time_every_fetch_loads() -> None:
    cache: TtlCache[str, int] = TtlCache(0.0, clock=Clock())
    loads = 0

    async def load() -> int:
        nonlocal loads
        loads += 1
        return loads

    assert [await cache.fetch("a", load) for _ in range(3)] == [1, 2, 3]
