"""Batching for the live service: collect outcomes, close batches in time, store them in order, release acks.

A message's acknowledgement travels with its batch and is released (``on_stored``) only after the batch is
stored by :class:`ingest.store.BatchStore`: its lines acknowledged by InfluxDB, or durably in the on-disk spool,
and its rejections in quarantine.

- Batches close at ``batch_size`` lines or ``max_batch_messages`` messages; when the store is idle, ``linger``
  seconds after they opened (so a small window of unacknowledged messages at the broker never stalls a
  batch, and batches grow by themselves when InfluxDB is busy); and ``batch_interval`` seconds at the latest.
- Closed batches wait in a bounded queue; when it is full, ``on_pressure(True)`` asks the receiver to stop
  reading until the store catches up (``on_pressure(False)``). Batches being written count as queued.
- Up to ``max_writes`` batches (``STADTPULS_BATCH_WRITES``, default 3) are written at once, started in order;
  acknowledgements are released strictly in order: a batch's only after every earlier batch is stored.
  A write beyond the first starts only for a backlog: the linger closes a batch only while nothing is being
  written, so during a write the open batch grows until it is full (or ``batch_interval`` passes). Traffic that
  does not fill a batch during one write keeps one write in flight, and its batches as large as with one.
  Whatever goes wrong with a write (an outage, a refused line) is handled after every earlier batch is stored
  (see :meth:`ingest.store.BatchStore.store`), so the spool and the quarantine receive batches in order.
  Overlapping writes keep the broker's in-flight window moving: the next batch is received, handled and
  written while the last one's write is still waiting for InfluxDB.
- When a write fails for good (the store raises), nothing after it is acknowledged: the error propagates from
  :meth:`Batcher.run` once the batches before it are released.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest import metrics
from ingest.records import AckToken, Outcome, Rejection
from ingest.store import BatchStore, Span

OnStored = Callable[[list[AckToken]], None]
OnPressure = Callable[[bool], None]


@dataclass(slots=True)
class Batch:
    """Lines, rejections and acknowledgements of the messages collected since the batch opened."""

    lines: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    acks: list[AckToken] = field(default_factory=list)
    messages: int = 0
    opened: float = field(default_factory=time.monotonic)


class Batcher:
    """Collects outcomes into batches and has them stored; see the module docstring for the guarantees."""

    def __init__(
        self,
        store: BatchStore,
        *,
        on_stored: OnStored = lambda acks: None,
        on_pressure: OnPressure = lambda paused: None,
        batch_size: int = 5000,
        batch_interval: float = 0.2,
        linger: float = 0.02,
        max_batch_messages: int = 5000,
        max_queued_batches: int = 4,
        max_writes: int = 1,
    ) -> None:
        if max_writes < 1 or max_queued_batches < max_writes:
            raise ValueError(f"max_writes must be 1..max_queued_batches ({max_queued_batches}), not {max_writes}")
        self._store = store
        self._on_stored = on_stored
        self._on_pressure = on_pressure
        self._batch_size = batch_size
        self._interval = batch_interval
        self._linger = min(linger, batch_interval)
        self._max_messages = max_batch_messages
        self._max_queued = max_queued_batches
        self._max_writes = max_writes
        self._current = Batch()
        self._queue: deque[Batch] = deque()  # closed, waiting for a write to start
        self._writes: deque[tuple[Batch, asyncio.Task[None]]] = deque()  # being written, in order
        self._wake = asyncio.Event()
        self._pressure = False
        self._closing = False

    # --- the hot path (synchronous, called once per message) ------------------------------------------------
    def add(self, outcome: Outcome) -> None:
        """Add one message's outcome to the open batch (a duplicate's only adds its acknowledgement)."""
        batch = self._current
        lines = outcome.lines
        if lines:
            start = len(batch.lines)
            batch.lines.extend(lines)
            batch.spans.append(Span(start, len(batch.lines), outcome.message))
        if outcome.rejection is not None:
            batch.rejections.append(outcome.rejection)
        ack = outcome.message.ack
        if ack is not None:
            batch.acks.append(ack)
        batch.messages += 1
        if len(batch.lines) >= self._batch_size or batch.messages >= self._max_messages:
            self._close_current()

    def _close_current(self) -> None:
        batch = self._current
        if not batch.messages:
            batch.opened = time.monotonic()
            return
        self._current = Batch()
        self._queue.append(batch)
        metrics.QUEUE_DEPTH.set(self._unstored())
        self._wake.set()
        if self._unstored() >= self._max_queued and not self._pressure:
            self._pressure = True
            metrics.PAUSES.inc()
            self._on_pressure(True)

    # --- background ----------------------------------------------------------------------------------------
    def _unstored(self) -> int:
        """Closed batches not yet released: waiting or being written."""
        return len(self._queue) + len(self._writes)

    async def run(self) -> None:
        """Store batches in order until :meth:`close` and every closed batch is stored.

        Raises:
            Exception: what a batch's store raised, once the batches before it are released.
        """
        ticker = asyncio.create_task(self._tick())
        try:
            await self._store_loop()
        finally:
            ticker.cancel()
            for _, task in self._writes:
                task.cancel()
            await asyncio.gather(*(task for _, task in self._writes), return_exceptions=True)

    async def _store_loop(self) -> None:
        while True:
            self._release_stored()
            self._start_writes()  # after the release: a write that just ended frees its place at once
            if self._closing and not self._queue and not self._writes:
                return
            self._wake.clear()
            await self._wake.wait()

    def _start_writes(self) -> None:
        """Start writing closed batches, oldest first, while fewer than ``max_writes`` are being written."""
        while self._queue and len(self._writes) < self._max_writes:
            batch = self._queue.popleft()
            after = self._writes[-1][1] if self._writes else None
            task = asyncio.create_task(self._store.store(batch.lines, batch.spans, batch.rejections, after=after))
            task.add_done_callback(lambda _: self._wake.set())
            self._writes.append((batch, task))

    def _release_stored(self) -> None:
        """Release the acknowledgements of the oldest batches whose writes are done, in order.

        Raises:
            Exception: the oldest finished write failed.
        """
        while self._writes and self._writes[0][1].done():
            batch, task = self._writes.popleft()
            task.result()
            metrics.QUEUE_DEPTH.set(self._unstored())
            if self._pressure and self._unstored() < max(1, self._max_queued // 2):
                self._pressure = False
                self._on_pressure(False)
            self._on_stored(batch.acks)
            metrics.ACKS.inc(len(batch.acks))

    async def _tick(self) -> None:
        """Close the open batch after ``linger`` when nothing is being written, after ``batch_interval``
        anyway.

        While a write is in flight the open batch keeps growing instead: it closes when it is full or after
        ``batch_interval``, so a further write starts only for a backlog, never for a trickle of messages.
        """
        while True:
            await asyncio.sleep(self._linger / 2)
            age = time.monotonic() - self._current.opened
            idle = not self._queue and not self._writes
            if age >= self._interval or (age >= self._linger and idle):
                self._close_current()

    async def close(self) -> None:
        """Close the open batch; :meth:`run` returns once every closed batch is stored."""
        self._close_current()
        self._closing = True
        self._wake.set()

