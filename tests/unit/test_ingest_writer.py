"""The batch writer against a scripted InfluxDB: acks after storage, spool on 5xx, quarantine on 4xx."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ingest.quarantine import Rejection
from ingest.receiver import PendingAck
from ingest.spool import Spool
from ingest.writer import BatchWriter
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


def make_writer(tmp_path: Path, influx: FakeInflux, acked: list[int], rejected: list[Rejection]) -> BatchWriter:
    async def store(rejections: list[Rejection]) -> None:
        rejected.extend(rejections)

    fake: InfluxClient = influx  # type: ignore[assignment]
    return BatchWriter(fake, Spool(tmp_path / "spool", max_bytes=1 << 20), store,
                       on_stored=lambda acks: acked.extend(a.mid for a in acks), batch_size=4, batch_interval=0.05)


async def run_until_stored(writer: BatchWriter) -> None:
    task = asyncio.create_task(writer.run())
    await writer.close()
    await asyncio.wait_for(task, timeout=10)


async def test_messages_are_acknowledged_after_their_lines_are_written(tmp_path: Path) -> None:
    influx, acked, rejected = FakeInflux(), [], []  # type: ignore[var-annotated]
    writer = make_writer(tmp_path, influx, acked, rejected)
    for mid in range(1, 6):
        writer.add([f"m v={mid} {mid}"], None, "t", b"p", PendingAck(None, mid))
    writer.add_ack(PendingAck(None, 99))  # a duplicate: acknowledged with the open batch, nothing written
    await run_until_stored(writer)
    assert influx.lines == [f"m v={mid} {mid}" for mid in range(1, 6)]
    assert acked == [1, 2, 3, 4, 5, 99]
    assert rejected == []


async def test_a_refused_message_is_found_and_quarantined_and_the_rest_is_written(tmp_path: Path) -> None:
    influx, acked, rejected = FakeInflux(), [], []  # type: ignore[var-annotated]
    writer = make_writer(tmp_path, influx, acked, rejected)
    for mid in range(1, 4):
        lines = ["m v=1 1", "bad v=1 1"] if mid == 2 else [f"m v={mid} {mid}"]
        writer.add(lines, None, f"topic/{mid}", f"raw {mid}".encode(), PendingAck(None, mid))
    await run_until_stored(writer)
    assert [(r.topic, r.payload, r.stage) for r in rejected] == [("topic/2", b"raw 2", "write")]
    assert "field type conflict" in rejected[0].reason
    assert sorted(acked) == [1, 2, 3]


async def test_an_outage_spools_acknowledges_and_replays_in_order(tmp_path: Path) -> None:
    influx, acked, rejected = FakeInflux(), [], []  # type: ignore[var-annotated]
    influx.down = True
    writer = make_writer(tmp_path, influx, acked, rejected)
    task = asyncio.create_task(writer.run())
    for mid in range(1, 9):
        writer.add([f"m v={mid} {mid}"], None, "t", b"p", PendingAck(None, mid))
    while len(acked) < 8:
        await asyncio.sleep(0.01)
    assert influx.lines == []  # acknowledged because the batches are on disk
    assert len(list((tmp_path / "spool").glob("*.lp"))) == 2
    influx.down = False
    while list((tmp_path / "spool").glob("*.lp")):
        await asyncio.sleep(0.05)
    await writer.close()
    await asyncio.wait_for(task, timeout=10)
    assert influx.lines == [f"m v={mid} {mid}" for mid in range(1, 9)]
