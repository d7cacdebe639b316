"""Batches line protocol and writes it to InfluxDB; a message is acknowledged only once its batch is stored.

Every message handed to :meth:`BatchWriter.submit` gets a future that resolves when its lines are durably
written (or its rejection stored in quarantine). Batches close at ``batch_size`` lines or after
``batch_interval`` seconds. The queue of closed batches is bounded: when InfluxDB slows down, ``submit``
waits, so ingest reads more slowly instead of growing in memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from ingest import metrics
from ingest.quarantine import Rejection
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable

log = logging.getLogger(__name__)

StoreRejections = Callable[[list[Rejection]], Awaitable[None]]


@dataclass(slots=True)
class Batch:
    """Lines, rejections and the futures of the messages they came from."""

    lines: list[str] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    sources: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, payload) per message
    done: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    opened: float = field(default_factory=time.monotonic)


class BatchWriter:
    """Collects lines into batches and writes them with retries and backoff."""

    def __init__(
        self,
        influx: InfluxClient,
        store_rejections: StoreRejections,
        *,
        batch_size: int = 5000,
        batch_interval: float = 0.2,
        max_queued_batches: int = 8,
        max_backoff: float = 30.0,
    ) -> None:
        self._influx = influx
        self._store_rejections = store_rejections
        self._batch_size = batch_size
        self._interval = batch_interval
        self._queue: asyncio.Queue[Batch] = asyncio.Queue(maxsize=max_queued_batches)
        self._max_backoff = max_backoff
        self._current: Batch | None = None
        self._closing = False

    async def submit(self, lines: list[str], rejection: Rejection | None, topic: str, payload: bytes) -> asyncio.Future[None]:
        """Add one message's lines (and rejection); returns the future of its batch."""
        batch = self._current
        if batch is None:
            batch = self._current = Batch()
        batch.lines.extend(lines)
        batch.sources.append((topic, payload))
        if rejection is not None:
            batch.rejections.append(rejection)
        if len(batch.lines) >= self._batch_size:
            await self._close_current()
        return batch.done

    async def _close_current(self) -> None:
        batch, self._current = self._current, None
        if batch is not None and (batch.lines or batch.rejections):
            await self._queue.put(batch)
            metrics.QUEUE_DEPTH.set(self._queue.qsize())
        elif batch is not None:
            batch.done.set_result(None)

    async def run(self) -> None:
        """Close batches on time and write them, until :meth:`close` drains the queue."""
        ticker = asyncio.create_task(self._tick())
        try:
            while not (self._closing and self._queue.empty() and self._current is None):
                try:
                    batch = await asyncio.wait_for(self._queue.get(), timeout=self._interval)
                except TimeoutError:
                    continue
                metrics.QUEUE_DEPTH.set(self._queue.qsize())
                await self._write(batch)
        finally:
            ticker.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self._interval / 2)
            current = self._current
            if current is not None and time.monotonic() - current.opened >= self._interval:
                await self._close_current()

    async def close(self) -> None:
        """Flush what is open; :meth:`run` returns once everything queued is written."""
        await self._close_current()
        self._closing = True

    async def _write(self, batch: Batch) -> None:
        started = time.monotonic()
        if batch.lines:
            try:
                await self._write_with_retry("\n".join(batch.lines))
                metrics.POINTS.inc(len(batch.lines))
                metrics.BATCHES.labels("written").inc()
            except InfluxRejected as exc:
                metrics.BATCHES.labels("rejected").inc()
                log.error("InfluxDB rejected a batch of %d lines, quarantining its messages: %s", len(batch.lines), exc)
                batch.rejections.extend(Rejection(t, p, "write", str(exc)) for t, p in batch.sources)
        if batch.rejections:
            await self._store_rejections(batch.rejections)
            for r in batch.rejections:
                metrics.QUARANTINED.labels(r.stage).inc()
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)
        if not batch.done.done():
            batch.done.set_result(None)

    async def _write_with_retry(self, body: str) -> None:
        delay = 0.5
        while True:
            try:
                await self._influx.write(body)
                return
            except InfluxUnavailable as exc:
                metrics.RETRIES.inc()
                log.warning("InfluxDB write failed, retrying in %.1f s: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._max_backoff)
