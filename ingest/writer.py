"""Batches line protocol, stores each batch in InfluxDB or the spool, then releases its acknowledgements.

A message's acknowledgement travels with its batch and is released (``on_stored``) only after the batch's
lines are acknowledged by InfluxDB, or durably in the on-disk spool, and its rejections are in quarantine.

- Batches close at ``batch_size`` lines or ``max_batch_messages`` messages; when the writer is idle, ``linger``
  seconds after they opened (so a small window of unacknowledged messages at the broker never stalls a
  batch, and batches grow by themselves when InfluxDB is busy); and ``batch_interval`` seconds at the latest.
- Closed batches wait in a bounded queue; when it is full, ``on_pressure(True)`` asks the receiver to stop
  reading until the writer catches up (``on_pressure(False)``).
- Batches are written one at a time, in order. When InfluxDB is unreachable or answers 5xx, the batch goes to
  the spool, and every later batch follows it there until the replayer has drained the spool in order.
- A 4xx (e.g. a field type conflict) cannot be fixed by retrying: the batch is split until the messages whose
  lines InfluxDB refuses are found, and those go to quarantine with InfluxDB's reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ingest import metrics
from ingest.quarantine import Rejection
from ingest.receiver import PendingAck
from ingest.spool import Spool, SpoolFull
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable

log = logging.getLogger(__name__)

StoreRejections = Callable[[list[Rejection]], Awaitable[None]]
OnStored = Callable[[list[PendingAck]], None]
OnPressure = Callable[[bool], None]
SPOOL_TOPIC = "spool"  # topic recorded for spooled lines InfluxDB later refuses (the raw message is not kept)


@dataclass(slots=True)
class Span:
    """The lines of one message within a batch, with the message itself for quarantine."""

    start: int
    end: int
    topic: str
    payload: bytes


@dataclass(slots=True)
class Batch:
    """Lines, rejections and acknowledgements of the messages collected since the batch opened."""

    lines: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    acks: list[PendingAck] = field(default_factory=list)
    messages: int = 0
    opened: float = field(default_factory=time.monotonic)


class BatchWriter:
    """Collects messages into batches and stores them; see the module docstring for the guarantees."""

    def __init__(
        self,
        influx: InfluxClient,
        spool: Spool,
        store_rejections: StoreRejections,
        *,
        on_stored: OnStored = lambda acks: None,
        on_pressure: OnPressure = lambda paused: None,
        batch_size: int = 5000,
        batch_interval: float = 0.2,
        linger: float = 0.02,
        max_batch_messages: int = 5000,
        max_queued_batches: int = 4,
        max_backoff: float = 10.0,
    ) -> None:
        self._influx = influx
        self._spool = spool
        self._store_rejections = store_rejections
        self._on_stored = on_stored
        self._on_pressure = on_pressure
        self._batch_size = batch_size
        self._interval = batch_interval
        self._linger = min(linger, batch_interval)
        self._max_messages = max_batch_messages
        self._max_queued = max_queued_batches
        self._max_backoff = max_backoff
        self._current = Batch()
        self._queue: deque[Batch] = deque()
        self._wake = asyncio.Event()
        self._spooled = asyncio.Event()
        self._idle = asyncio.Event()
        self._pressure = False
        self._closing = False
        if len(spool):
            self._spooled.set()
        metrics.SPOOL_BYTES.set(spool.bytes)

    # --- the hot path (synchronous, called once per message) ------------------------------------------------
    def add(
        self, lines: list[str], rejection: Rejection | None, topic: str, payload: bytes, ack: PendingAck | None
    ) -> None:
        """Add one message's outcome to the open batch."""
        batch = self._current
        if lines:
            start = len(batch.lines)
            batch.lines.extend(lines)
            batch.spans.append(Span(start, len(batch.lines), topic, payload))
        if rejection is not None:
            batch.rejections.append(rejection)
        if ack is not None:
            batch.acks.append(ack)
        batch.messages += 1
        if len(batch.lines) >= self._batch_size or batch.messages >= self._max_messages:
            self._close_current()

    def add_ack(self, ack: PendingAck | None) -> None:
        """A message with nothing to store (a duplicate): acknowledge it with the open batch."""
        self._current.messages += 1
        if ack is not None:
            self._current.acks.append(ack)

    def _close_current(self) -> None:
        batch = self._current
        if not batch.messages:
            batch.opened = time.monotonic()
            return
        self._current = Batch()
        self._queue.append(batch)
        metrics.QUEUE_DEPTH.set(len(self._queue))
        self._wake.set()
        if len(self._queue) >= self._max_queued and not self._pressure:
            self._pressure = True
            metrics.PAUSES.inc()
            self._on_pressure(True)

    # --- background tasks -----------------------------------------------------------------------------------
    async def run(self) -> None:
        """Write batches in order and drain the spool, until :meth:`close` and everything is stored."""
        ticker = asyncio.create_task(self._tick())
        replayer = asyncio.create_task(self._replay())
        try:
            await self._write_loop()
            self._report_spool()
        finally:
            ticker.cancel()
            replayer.cancel()

    async def _write_loop(self) -> None:
        while True:
            while not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
            batch = self._queue[0]
            await self._store(batch)
            self._queue.popleft()
            metrics.QUEUE_DEPTH.set(len(self._queue))
            if self._pressure and len(self._queue) < max(1, self._max_queued // 2):
                self._pressure = False
                self._on_pressure(False)
            self._on_stored(batch.acks)
            metrics.ACKS.inc(len(batch.acks))

    def _report_spool(self) -> None:
        """On stop the spool stays on disk (it is already durable) and is replayed at the next start."""
        if len(self._spool):
            log.info(
                "stopping with %d batches (%d bytes) spooled; they are replayed at the next start",
                len(self._spool),
                self._spool.bytes,
            )

    async def _tick(self) -> None:
        """Close the open batch after ``linger`` when the writer is idle, after ``batch_interval`` anyway."""
        while True:
            await asyncio.sleep(self._linger / 2)
            age = time.monotonic() - self._current.opened
            if age >= self._interval or (age >= self._linger and not self._queue):
                self._close_current()

    async def close(self) -> None:
        """Close the open batch; :meth:`run` returns once every closed batch is stored."""
        self._close_current()
        self._closing = True
        self._wake.set()

    # --- storing one batch ----------------------------------------------------------------------------------
    async def _store(self, batch: Batch) -> None:
        started = time.monotonic()
        if batch.lines:
            if len(self._spool):
                await self._to_spool(batch.lines)  # keep order: the spool is replayed first
            else:
                rejected = await self._write_spans(batch.lines, batch.spans)
                batch.rejections.extend(rejected)
        if batch.rejections:
            await self._quarantine(batch.rejections)
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)

    async def _write_spans(self, lines: list[str], spans: list[Span]) -> list[Rejection]:
        """Write the lines of ``spans``; split on 4xx to find the messages InfluxDB refuses; spool on 5xx."""
        part = lines[spans[0].start : spans[-1].end]
        if len(self._spool):  # an earlier part went to the spool: keep the order
            await self._to_spool(part)
            return []
        try:
            await self._influx.write("\n".join(part).encode())
        except InfluxUnavailable as exc:
            metrics.BATCHES.labels("spooled").inc()
            log.warning("InfluxDB unavailable, spooling %d lines: %s", len(part), exc)
            await self._to_spool(part)
            return []
        except InfluxRejected as exc:
            if len(spans) == 1:
                metrics.BATCHES.labels("rejected").inc()
                return [Rejection(spans[0].topic, spans[0].payload, "write", str(exc))]
            half = len(spans) // 2
            return await self._write_spans(lines, spans[:half]) + await self._write_spans(lines, spans[half:])
        metrics.POINTS.inc(len(part))
        metrics.BATCHES.labels("written").inc()
        return []

    async def _to_spool(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        while True:
            try:
                await asyncio.to_thread(self._spool.append, body)
                break
            except SpoolFull as exc:  # stop acknowledging: the broker keeps the messages meanwhile
                metrics.SPOOL_FULL.inc()
                log.error("%s; waiting for InfluxDB before acknowledging more messages", exc)
                await asyncio.sleep(1.0)
        metrics.SPOOL_BYTES.set(self._spool.bytes)
        metrics.SPOOLED_LINES.inc(len(lines))
        self._spooled.set()

    async def _quarantine(self, rejections: list[Rejection]) -> None:
        delay = 0.5
        while True:
            try:
                await self._store_rejections(rejections)
                break
            except Exception as exc:  # the registry DB may be locked or down: keep the messages
                log.warning("quarantine store failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
        for r in rejections:
            metrics.QUARANTINED.labels(r.stage).inc()

    # --- replaying the spool --------------------------------------------------------------------------------
    async def _replay(self) -> None:
        delay = 0.5
        while True:
            await self._spooled.wait()
            entry = await asyncio.to_thread(self._spool.oldest)
            if entry is None:
                self._spooled.clear()
                continue
            seq, body = entry
            try:
                await self._influx.write(body)
            except InfluxUnavailable as exc:
                metrics.RETRIES.inc()
                log.info("spool replay waits for InfluxDB (%.1f s): %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
                continue
            except InfluxRejected:
                await self._replay_rejected(body)
            else:
                metrics.POINTS.inc(body.count(b"\n") + 1)
            delay = 0.5
            await asyncio.to_thread(self._spool.remove, seq)
            metrics.SPOOL_BYTES.set(self._spool.bytes)
            metrics.BATCHES.labels("replayed").inc()

    async def _replay_rejected(self, body: bytes) -> None:
        """A spooled batch InfluxDB refuses: write line by line groups, quarantine the refused lines."""
        lines = body.decode().split("\n")
        spans = [Span(i, i + 1, SPOOL_TOPIC, line.encode()) for i, line in enumerate(lines)]
        while True:
            try:
                rejected = await self._split_only(lines, spans)
                break
            except InfluxUnavailable:
                await asyncio.sleep(1.0)
        if rejected:
            await self._quarantine(rejected)

    async def _split_only(self, lines: list[str], spans: list[Span]) -> list[Rejection]:
        part = lines[spans[0].start : spans[-1].end]
        try:
            await self._influx.write("\n".join(part).encode())
        except InfluxRejected as exc:
            if len(spans) == 1:
                return [Rejection(SPOOL_TOPIC, spans[0].payload, "write", str(exc))]
            half = len(spans) // 2
            return await self._split_only(lines, spans[:half]) + await self._split_only(lines, spans[half:])
        metrics.POINTS.inc(len(part))
        return []
