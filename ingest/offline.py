"""The offline entry of ingest: messages in, stored points and quarantine out, without MQTT.

The simulator's backfill and the quarantine replay feed their messages here. They run the live path's
pipeline (with its deduplication), the live path's bisection (:func:`ingest.store.find_refused`: the messages
whose lines InfluxDB refuses become ``write`` rejections) and hand rejections to the quarantine callback they
give. Lines are written in batches with a few writes in flight. There is no spool: an offline run that cannot
reach InfluxDB (or store its rejections) fails with that error instead of waiting, and can simply be run again
(writing an uplink again produces the same point).

Each message's ack token is passed to ``on_stored`` once its lines are written and its rejection is stored,
as in the live service; a replay uses it to learn which quarantined rows went through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from ingest.pipeline import Pipeline
from ingest.records import AckToken, Message, Outcome, Rejection
from ingest.store import Span, StoreRejections, find_refused
from stadtpuls.influx import InfluxClient

BATCH_LINES = 5000  # lines per write
WRITES_IN_FLIGHT = 2  # writes under way at once (the next batch is built meanwhile)


@dataclass(slots=True)
class OfflineCounts:
    """What an offline run did so far."""

    messages: int = 0
    duplicates: int = 0
    lines: int = 0  # lines InfluxDB accepted
    rejected: dict[str, int] = field(default_factory=dict)  # stage → messages kept in quarantine


@dataclass(slots=True)
class _Batch:
    lines: list[str] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    acks: list[AckToken] = field(default_factory=list)


class OfflineIngest:
    """Runs messages through the pipeline and stores what comes out.

    Args:
        pipeline: the pipeline (give it a deduplication memory to store each uplink once).
        influx: where lines go.
        store_rejections: where rejections go (quarantine); an error in it ends the run.
        on_stored: gets the ack tokens of messages whose outcome is stored.
        batch_lines: lines per write.
        writes_in_flight: writes under way at once.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        influx: InfluxClient,
        store_rejections: StoreRejections,
        *,
        on_stored: Callable[[list[AckToken]], None] = lambda acks: None,
        batch_lines: int = BATCH_LINES,
        writes_in_flight: int = WRITES_IN_FLIGHT,
    ) -> None:
        self._pipeline = pipeline
        self._influx = influx
        self._store_rejections = store_rejections
        self._on_stored = on_stored
        self._batch_lines = batch_lines
        self._max_writes = writes_in_flight
        self._batch = _Batch()
        self._writes: set[asyncio.Task[None]] = set()
        self.counts = OfflineCounts()

    async def feed(self, messages: Iterable[Message], on_outcome: Callable[[Outcome], None] | None = None) -> None:
        """Run messages through the pipeline and queue what comes out, writing whenever a batch is full.

        Args:
            messages: the messages, in order of arrival.
            on_outcome: called with each message's outcome (e.g. to count).
        """
        handle, counts, limit = self._pipeline.handle, self.counts, self._batch_lines
        batch = self._batch
        for message in messages:
            outcome = handle(message)
            counts.messages += 1
            if outcome.duplicate:
                counts.duplicates += 1
            lines = outcome.lines
            if lines:
                start = len(batch.lines)
                batch.lines += lines
                batch.spans.append(Span(start, len(batch.lines), message))
            if outcome.rejection is not None:
                batch.rejections.append(outcome.rejection)
            if message.ack is not None:
                batch.acks.append(message.ack)
            if on_outcome is not None:
                on_outcome(outcome)
            if len(batch.lines) >= limit:
                await self._submit()
                batch = self._batch

    async def flush(self) -> OfflineCounts:
        """Store everything fed so far; returns the counts.

        Raises:
            stadtpuls.influx.InfluxUnavailable: InfluxDB could not be reached (or the error of the quarantine).
        """
        await self._submit()
        while self._writes:
            await self._wait_one()
        return self.counts

    async def _submit(self) -> None:
        batch, self._batch = self._batch, _Batch()
        if not (batch.spans or batch.rejections or batch.acks):
            return
        while len(self._writes) >= self._max_writes:
            await self._wait_one()
        self._writes.add(asyncio.create_task(self._store(batch)))
        await asyncio.sleep(0)  # let the write start before the next batch is built

    async def _wait_one(self) -> None:
        done, _ = await asyncio.wait(self._writes, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            self._writes.discard(task)
            task.result()

    async def _store(self, batch: _Batch) -> None:
        rejections = batch.rejections
        if batch.spans:
            rejections = rejections + await find_refused(self._write, batch.lines, batch.spans)
        if rejections:
            await self._store_rejections(rejections)
            rejected = self.counts.rejected
            for r in rejections:
                rejected[r.stage] = rejected.get(r.stage, 0) + 1
        self._on_stored(batch.acks)

    async def _write(self, lines: list[str]) -> None:
        await self._influx.write("\n".join(lines).encode())
        self.counts.lines += len(lines)
