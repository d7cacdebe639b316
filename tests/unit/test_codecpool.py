"""JavaScript codecs in worker processes: results as in-process, order per device, duplicates behind their
originals, a bounded queue, and a worker that stops answering replaced.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devices.codecs.base import DecodeResult
from devices.jscodec import JsCodec
from devices.jsworker import JsWorker
from devtools.loadgen import Stream
from ingest.codecpool import CodecPool
from ingest.envelopes import parse_envelope
from ingest.records import Deferred, Message, Outcome

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "js"
SAMPLE = FIXTURES / "sample-counter.js"
SLOW = FIXTURES / "slow-counter.js"
FRAME = bytes([0x01, 0x00, 0x2A, 0x01, 0x00, 0x24])


async def test_a_worker_decodes_as_the_codec_does_in_process() -> None:
    worker = JsWorker(SAMPLE, time_limit_ms=100)
    try:
        for f_port, payload in ((1, FRAME), (2, bytes([2, 3, 0x84])), (5, b"\x07"), (1, b"\x01")):
            assert await worker.decode(f_port, payload) == JsCodec(SAMPLE).decode(f_port, payload)
    finally:
        await worker.close()


async def test_a_worker_that_does_not_answer_in_time_is_replaced() -> None:
    worker = JsWorker(SLOW, time_limit_ms=100, answer_timeout=0.01)
    try:
        result = await worker.decode(1, bytes([1, 0, 5, 0, 6]))
        assert result["errors"] == ["codec did not answer within 0.01 s; its worker was restarted"]
        assert worker.restarts == 1
        worker.answer_timeout = 30
        assert (await worker.decode(1, bytes([1, 0, 5, 0, 6])))["data"] == {"people_in": 5, "people_out": 6}
    finally:
        await worker.close()


async def test_an_endless_codec_is_stopped_by_the_sandbox_and_the_worker_goes_on() -> None:
    worker = JsWorker(FIXTURES / "endless-loop.js", time_limit_ms=50)
    try:
        result = await worker.decode(66, b"\x01")
        assert result["errors"] == ["codec timed out after 50 ms"]
        assert worker.restarts == 0
        assert (await worker.decode(1, b"\x01\x02"))["data"] == {"length": 2}
    finally:
        await worker.close()


def outcomes(count: int, *, devices: int, path: Path, log: list[tuple[str, int]]) -> list[Outcome]:
    """Deferred outcomes of ``count`` uplinks; completing one records (DevEUI, fCnt) in ``log``."""
    made = []
    for topic, body in Stream(count, devices=devices, name="pool").messages():
        message = Message(topic, body, 0)
        uplink = parse_envelope(topic, body, arrival_ns=0)
        out = Outcome(message, uplink=uplink, model="acme-counter", lines=["radio"])

        def complete(result: DecodeResult, out: Outcome = out) -> None:
            assert out.uplink is not None
            log.append((out.uplink.dev_eui, out.uplink.f_cnt))
            out.deferred = None
            out.lines.append("decoded" if not result["errors"] else "error")

        out.deferred = Deferred(path, 1, FRAME, complete)
        made.append(out)
    return made


async def test_each_device_keeps_its_order_and_duplicates_wait_behind_the_original() -> None:
    emitted: list[Outcome] = []
    decoded: list[tuple[str, int]] = []
    pool = CodecPool(emitted.append, workers=2)
    watch = asyncio.create_task(pool.run())
    made = outcomes(12, devices=3, path=SAMPLE, log=decoded)
    try:
        for out in made:
            assert pool.take(out)
        copy = Outcome(made[0].message, uplink=made[0].uplink, model="acme-counter", duplicate=True)
        assert pool.held
        assert pool.take(copy)  # its original is still queued: it waits behind it
        while len(emitted) < 13:
            await asyncio.sleep(0.01)
    finally:
        await pool.close()
        watch.cancel()
    assert emitted.index(copy) > emitted.index(made[0])
    for eui in {o.uplink.dev_eui for o in made if o.uplink}:
        counters = [o.uplink.f_cnt for o in emitted if o.uplink and o.uplink.dev_eui == eui and not o.duplicate]
        assert counters == sorted(counters)
    assert all(o.lines == ["radio", "decoded"] for o in made)
    assert not pool.held
    assert not pool.take(Outcome(made[1].message, uplink=made[1].uplink, duplicate=True))  # nothing held: caller's


async def test_a_full_queue_quarantines_with_the_reason_and_keeps_the_radio_record() -> None:
    emitted: list[Outcome] = []
    pool = CodecPool(emitted.append, backlog=2)
    made = outcomes(4, devices=1, path=SLOW, log=[])
    try:
        taken = [pool.take(out) for out in made]
        assert taken == [True, True, False, False]
        for out in made[2:]:
            assert out.deferred is None
            assert out.lines == ["radio", "error"]
    finally:
        await pool.close()
    assert pool.waiting == 0


async def test_a_lane_that_dies_is_reported() -> None:
    def explode(outcome: Outcome) -> None:
        raise OSError("disk gone")

    pool = CodecPool(explode)
    watch = asyncio.create_task(pool.run())
    await asyncio.sleep(0)
    pool.take(outcomes(1, devices=1, path=SAMPLE, log=[])[0])
    with pytest.raises(OSError, match="disk gone"):
        await asyncio.wait_for(watch, 30)
    await pool.close()
