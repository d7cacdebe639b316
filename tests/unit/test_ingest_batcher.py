"""Batcher, batch store and spool drain against a scripted InfluxDB: acks after storage, spool on 5xx,
quarantine on 4xx.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

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
        self.batcher = Batcher(store, on_stored=self._on_stored, batch_size=4, batch_interval=0.05)

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
