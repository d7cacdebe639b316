"""Batcher, batch store and spool drain against a scripted InfluxDB: acks after storage, spool on 5xx,
quarantine on 4xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from ingest.batcher import Batcher
from ingest.drain import SPOOL_TOPIC, SpoolDrain
from ingest.records import AckToken, Message, Outcome, Rejection
from ingest.spool import Spool
from ingest.store import BatchStore, Quarantine
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable


class FakeInflux:
    """Stores lines; refuses lines containing ``bad`` (4xx) and everything while ``down`` (5xx)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.down = False
        self.writes = 0

    async def write(self, body: bytes) -> None:
        self.writes += 1
        if self.down:
            raise InfluxUnavailable("HTTP 503")
        lines = body.decode().split("\n")
        good = [line for line in lines if "bad" not in line]
        self.lines.extend(good)  # InfluxDB 1.x keeps the good points of a partial write
        if len(good) < len(lines):
            raise InfluxRejected(400, "partial write: field type conflict")


class Token(AckToken):
    __slots__ = ("mid",)

    def __init__(self, mid: int) -> None:
        self.mid = mid


class Harness:
    """A batcher wired to its store and the spool drain the way the ingest service wires them."""

    def __init__(self, tmp_path: Path, influx: FakeInflux) -> None:
        self.acked: list[int] = []
        self.rejected: list[Rejection] = []
        fake: InfluxClient = influx  # type: ignore[assignment]
        spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
        quarantine = Quarantine(self._store)
        self.drain = SpoolDrain(fake, spool, quarantine, max_backoff=0.05)
        store = BatchStore(fake, spool, quarantine, on_spooled=self.drain.notify)
        self.batcher = Batcher(store, on_stored=self._on_stored, batch_size=4, batch_interval=0.05, max_writes=2)

    async def _store(self, rejections: list[Rejection]) -> None:
        self.rejected.extend(rejections)

    def _on_stored(self, acks: list[AckToken]) -> None:
        self.acked.extend(a.mid for a in acks if isinstance(a, Token))

    def add(self, mid: int, lines: list[str], *, duplicate: bool = False) -> None:
        message = Message(f"topic/{mid}", f"raw {mid}".encode(), mid, Token(mid))
        self.batcher.add(Outcome(message, lines=lines, duplicate=duplicate))

    async def run(self) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
        return asyncio.create_task(self.batcher.run()), asyncio.create_task(self.drain.run())

    async def stop(self, tasks: tuple[asyncio.Task[None], asyncio.Task[None]]) -> None:
        await self.batcher.close()
        await asyncio.wait_for(tasks[0], timeout=10)
        tasks[1].cancel()


async def test_messages_are_acknowledged_after_their_lines_are_written(tmp_path: Path) -> None:
    influx = FakeInflux()
    h = Harness(tmp_path, influx)
    for mid in range(1, 6):
        h.add(mid, [f"m v={mid} {mid}"])
    h.add(99, [], duplicate=True)  # a duplicate: acknowledged with the open batch, nothing written
    await h.stop(await h.run())
    assert influx.lines == [f"m v={mid} {mid}" for mid in range(1, 6)]
    assert h.acked == [1, 2, 3, 4, 5, 99]
    assert h.rejected == []


async def test_a_refused_message_is_found_and_quarantined_and_the_rest_is_written(tmp_path: Path) -> None:
    influx = FakeInflux()
    h = Harness(tmp_path, influx)
    for mid in range(1, 4):
        h.add(mid, ["m v=1 1", "bad v=1 1"] if mid == 2 else [f"m v={mid} {mid}"])
    await h.stop(await h.run())
    assert [(r.message.topic, r.message.payload, r.stage) for r in h.rejected] == [("topic/2", b"raw 2", "write")]
    assert "field type conflict" in h.rejected[0].reason
    assert sorted(h.acked) == [1, 2, 3]


async def test_an_outage_spools_acknowledges_and_replays_in_order(tmp_path: Path) -> None:
    influx = FakeInflux()
    influx.down = True
    h = Harness(tmp_path, influx)
    tasks = await h.run()
    for mid in range(1, 9):
        h.add(mid, [f"m v={mid} {mid}"])
    while len(h.acked) < 8:
        await asyncio.sleep(0.01)
    assert influx.lines == []  # acknowledged because the batches are on disk
    assert len(list((tmp_path / "spool").glob("*.lp"))) == 2
    influx.down = False
    while list((tmp_path / "spool").glob("*.lp")):
        await asyncio.sleep(0.05)
    await h.stop(tasks)
    assert influx.lines == [f"m v={mid} {mid}" for mid in range(1, 9)]


async def test_a_spooled_line_influxdb_refuses_later_goes_to_quarantine(tmp_path: Path) -> None:
    influx = FakeInflux()
    influx.down = True
    h = Harness(tmp_path, influx)
    tasks = await h.run()
    for mid in range(1, 5):
        h.add(mid, ["bad v=1 1"] if mid == 3 else [f"m v={mid} {mid}"])
    while len(h.acked) < 4:
        await asyncio.sleep(0.01)
    influx.down = False
    while list((tmp_path / "spool").glob("*.lp")):
        await asyncio.sleep(0.05)
    await h.stop(tasks)
    assert set(influx.lines) == {"m v=1 1", "m v=2 2", "m v=4 4"}  # halves are written again: same points
    assert [(r.message.topic, r.message.payload, r.stage) for r in h.rejected] == [
        (SPOOL_TOPIC, b"bad v=1 1", "write")
    ]


# --- two batch writes in flight: acknowledgements and the failure paths stay in order ----------------------------
class GatedInflux(FakeInflux):
    """A FakeInflux whose n-th write (1-based) waits for ``gates[n]`` and then fails if ``fail`` names it."""

    def __init__(self) -> None:
        super().__init__()
        self.gates: dict[int, asyncio.Event] = {}
        self.fail: set[int] = set()
        self.started = 0

    async def write(self, body: bytes) -> None:
        self.started += 1
        number = self.started
        gate = self.gates.get(number)
        if gate is not None:
            await gate.wait()
        if number in self.fail:
            self.writes += 1
            raise InfluxUnavailable("HTTP 503")
        await super().write(body)


def spooled_lines(folder: Path) -> list[list[str]]:
    return [p.read_text().split("\n") for p in sorted(folder.glob("*.lp"))]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.005)


async def test_a_fast_second_write_is_acknowledged_only_after_the_slow_first(tmp_path: Path) -> None:
    influx = GatedInflux()
    influx.gates[1] = asyncio.Event()
    h = Harness(tmp_path, influx)
    tasks = await h.run()
    for mid in range(1, 9):  # two batches of four lines
        h.add(mid, [f"m v={mid} {mid}"])
    await wait_for(lambda: len(influx.lines) == 4)  # the second batch is written while the first waits
    await asyncio.sleep(0.05)
    assert influx.lines == [f"m v={mid} {mid}" for mid in range(5, 9)]
    assert h.acked == []  # ... but nothing is acknowledged before the first batch is stored
    influx.gates[1].set()
    await wait_for(lambda: len(h.acked) == 8)
    assert h.acked == list(range(1, 9))
    await h.stop(tasks)
    assert sorted(influx.lines) == sorted(f"m v={mid} {mid}" for mid in range(1, 9))


async def test_an_outage_in_the_middle_spools_in_order_and_acknowledges_in_order(tmp_path: Path) -> None:
    influx = GatedInflux()
    influx.gates[1] = asyncio.Event()  # batch 1: slow, then stored
    influx.fail = {2}  # batch 2: refused at once (503) while batch 1 is still being written
    h = Harness(tmp_path, influx)
    tasks = await h.run()
    for mid in range(1, 13):  # three batches of four lines
        h.add(mid, [f"m v={mid} {mid}"])
    await wait_for(lambda: influx.writes >= 1)
    await asyncio.sleep(0.05)
    assert spooled_lines(tmp_path / "spool") == []  # batch 2 waits for batch 1 before it goes to the spool
    assert h.acked == []
    influx.gates[1].set()
    await wait_for(lambda: len(h.acked) == 12)
    assert h.acked == list(range(1, 13))
    await wait_for(lambda: not spooled_lines(tmp_path / "spool"))  # the drain replays what was spooled
    await h.stop(tasks)
    assert sorted(influx.lines) == sorted(f"m v={mid} {mid}" for mid in range(1, 13))  # the drain replayed 2, 3


async def test_a_batch_behind_an_outage_follows_it_into_the_spool_in_order(tmp_path: Path) -> None:
    influx = GatedInflux()
    influx.down = True
    h = Harness(tmp_path, influx)
    tasks = (asyncio.create_task(h.batcher.run()), asyncio.create_task(asyncio.sleep(3600)))  # no drain yet
    for mid in range(1, 17):  # four batches; the batches after the first overlap it and fail fast
        h.add(mid, [f"m v={mid} {mid}"])
    await wait_for(lambda: len(h.acked) == 16)
    assert h.acked == list(range(1, 17))
    assert spooled_lines(tmp_path / "spool") == [
        [f"m v={mid} {mid}" for mid in range(first, first + 4)] for first in (1, 5, 9, 13)
    ]
    await h.stop(tasks)


async def test_a_refused_line_behind_a_slow_batch_is_quarantined_after_it(tmp_path: Path) -> None:
    influx = GatedInflux()
    influx.gates[1] = asyncio.Event()
    h = Harness(tmp_path, influx)
    tasks = await h.run()
    for mid in range(1, 9):
        h.add(mid, ["bad v=1 1"] if mid == 6 else [f"m v={mid} {mid}"])
    await wait_for(lambda: influx.started >= 2)
    await asyncio.sleep(0.05)
    assert h.rejected == []  # the bisection of batch 2 waits for batch 1
    influx.gates[1].set()
    await wait_for(lambda: len(h.acked) == 8)
    await h.stop(tasks)
    assert h.acked == list(range(1, 9))
    assert [(r.message.topic, r.stage) for r in h.rejected] == [("topic/6", "write")]
    assert set(influx.lines) == {f"m v={mid} {mid}" for mid in range(1, 9) if mid != 6}


class FailingStore:
    """A store whose first batch fails for good after ``gate`` opens; the others are stored at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.calls = 0
        self.stored: list[int] = []

    async def store(self, lines: list[str], spans: list[object], rejections: list[Rejection], *,
                    after: asyncio.Future[None] | None = None) -> None:
        self.calls += 1
        if self.calls == 1:
            await self.gate.wait()
            raise OSError("disk full")
        self.stored.append(self.calls)


async def test_nothing_after_a_failed_batch_is_acknowledged(tmp_path: Path) -> None:
    store = FailingStore()
    acked: list[int] = []
    def on_stored(acks: list[AckToken]) -> None:
        acked.extend(a.mid for a in acks if isinstance(a, Token))

    batcher = Batcher(store, on_stored=on_stored, batch_size=2, batch_interval=0.05, max_writes=2)  # type: ignore[arg-type]
    task = asyncio.create_task(batcher.run())
    for mid in range(1, 5):
        batcher.add(Outcome(Message("t", b"x", mid, Token(mid)), lines=[f"m v={mid} {mid}"]))
    await wait_for(lambda: store.stored == [2])  # the second batch is stored while the first waits
    store.gate.set()
    done, _ = await asyncio.wait([task], timeout=5)
    assert done
    assert isinstance(task.exception(), OSError)
    assert acked == []  # the second batch's messages stay unacknowledged: the broker delivers them again


def test_writes_in_flight_must_fit_the_queue() -> None:
    with pytest.raises(ValueError, match="max_writes"):
        Batcher(None, max_writes=5, max_queued_batches=4)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_writes"):
        Batcher(None, max_writes=0)  # type: ignore[arg-type]


@pytest.mark.parametrize("writes", [1, 2])
async def test_batches_queued_while_the_receiver_is_paused_are_all_stored(tmp_path: Path, writes: int) -> None:
    """No new batch closes while reading is paused: a write that ends must start the next queued batch itself."""
    influx = FakeInflux()
    h = Harness(tmp_path, influx)
    h.batcher = Batcher(h.batcher._store, on_stored=h._on_stored, batch_size=1, batch_interval=60,
                        max_queued_batches=4, max_writes=writes)
    for mid in range(1, 5):  # four batches closed before the store loop runs; the open batch stays empty
        h.add(mid, [f"m v={mid} {mid}"])
    tasks = await h.run()
    await wait_for(lambda: len(h.acked) == 4)
    assert h.acked == [1, 2, 3, 4]
    await h.stop(tasks)


# --- a further write only for a backlog ----------------------------------------------------------------------
@pytest.mark.parametrize("writes", [1, 2, 3])
async def test_a_further_write_starts_only_for_a_batch_that_fills_while_others_are_written(
    tmp_path: Path, writes: int
) -> None:
    """A batch past its linger waits while a write is in flight; a full one goes beside it while fewer than
    ``writes`` are in flight, else it waits too.
    """
    influx = GatedInflux()
    influx.gates[1] = asyncio.Event()
    h = Harness(tmp_path, influx)
    h.batcher = Batcher(h.batcher._store, on_stored=h._on_stored, batch_size=4, batch_interval=60, linger=0.01,
                        max_writes=writes)
    tasks = await h.run()
    h.add(1, ["m v=1 1"])
    await wait_for(lambda: influx.started == 1)  # nothing was being written: closed after the linger
    h.add(2, ["m v=2 2"])
    h.add(3, ["m v=3 3"])
    await asyncio.sleep(0.1)  # ten lingers: the open batch is not full, so it waits and grows
    assert influx.started == 1
    for mid in range(4, 10):  # fills the open batch (2-5), then one more (6-9)
        h.add(mid, [f"m v={mid} {mid}"])
    await wait_for(lambda: influx.started == writes)
    await asyncio.sleep(0.1)
    assert influx.started == writes  # each full batch is written beside the slow first while there is room
    if writes >= 2:
        assert influx.lines[:4] == ["m v=2 2", "m v=3 3", "m v=4 4", "m v=5 5"]
    assert h.acked == []  # nothing is acknowledged before the first batch is stored
    influx.gates[1].set()
    await wait_for(lambda: len(h.acked) == 9)
    assert h.acked == list(range(1, 10))
    await h.stop(tasks)
    assert sorted(influx.lines) == sorted(f"m v={mid} {mid}" for mid in range(1, 10))
