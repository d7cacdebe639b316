"""Storing one batch: its lines in InfluxDB (or the spool), its rejections in quarantine.

- Lines go to InfluxDB. When InfluxDB is unreachable or answers 5xx, they go to the on-disk spool instead, and
  every later write follows them there until the spool is drained (:mod:`ingest.drain`), so order is kept.
  The live service overlaps a batch's write with the one before it (``after``); only a write that succeeds
  at once is not ordered behind it (its points are other points: a write's order does not change what InfluxDB
  holds), while spooling, bisecting and quarantining wait for the batch before.
- A write InfluxDB refuses for a reason that is not the data (401/403, 404 database not found, 413, 429:
  :class:`stadtpuls.influx.InfluxRefused`) is an operator error: counted, logged, and spooled like an outage.
- A refusal of the data itself (a field type conflict, a line that does not parse) cannot be fixed by
  retrying: :func:`find_refused` splits the lines by message until the messages whose lines InfluxDB refuses
  are found; they become rejections (stage ``write``).
- Rejections go to quarantine through :class:`Quarantine`, which never waits for the registry database: the
  live service keeps them in a local pending folder first (:mod:`ingest.pending`), so a database that is down
  or refuses a record never holds back valid data or its acknowledgements.

The live service (:class:`BatchStore`), the spool drain and the offline entry (:mod:`ingest.offline`) all use
the one bisection here.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from ingest import metrics
from ingest.records import Message, Rejection
from ingest.retry import retry
from ingest.spool import Spool, SpoolFull
from stadtpuls.influx import InfluxClient, InfluxRefused, InfluxRejected, InfluxUnavailable

log = logging.getLogger(__name__)

StoreRejections = Callable[[list[Rejection]], Awaitable[None]]
WriteLines = Callable[[list[str]], Awaitable[None]]  # raises InfluxRejected when InfluxDB refuses the lines


@dataclass(slots=True)
class Span:
    """The lines ``start:end`` of one message within a batch's lines."""

    start: int
    end: int
    message: Message


async def find_refused(write: WriteLines, lines: list[str], spans: Sequence[Span]) -> list[Rejection]:
    """Write the lines of ``spans``; on a 4xx split them in halves until the refused messages are found.

    InfluxDB 1.x keeps the good points of a partly refused write, and writing a point again stores the same
    point, so halves that were partly written before are safe to write again.

    Args:
        write: writes lines; raises :class:`InfluxRejected` on a 4xx (anything else propagates).
        lines: the lines the spans index into.
        spans: consecutive spans of messages, at least one.

    Returns:
        One ``write`` rejection per message whose lines InfluxDB refuses.
    """
    try:
        await write(lines[spans[0].start : spans[-1].end])
    except InfluxRejected as exc:
        if len(spans) == 1:
            metrics.BATCHES.labels("rejected").inc()
            return [Rejection(spans[0].message, "write", str(exc))]
        half = len(spans) // 2
        return await find_refused(write, lines, spans[:half]) + await find_refused(write, lines, spans[half:])
    return []


def count_refusal(exc: BaseException) -> None:
    """Count a write InfluxDB refused for a reason an operator must fix (see :class:`InfluxRefused`)."""
    if isinstance(exc, InfluxRefused):
        metrics.INFLUX_REFUSALS.labels(str(exc.status)).inc()


class Quarantine:
    """Hands rejections to where they are kept.

    Args:
        keep_rejections: keeps rejections durably without waiting for the registry database (the live service
            gives :meth:`ingest.pending.PendingQuarantine.add`); an error in it propagates.
    """

    def __init__(self, keep_rejections: StoreRejections) -> None:
        self._keep = keep_rejections

    async def keep(self, rejections: list[Rejection]) -> None:
        """Keep ``rejections``; returns once they are kept."""
        if rejections:
            await self._keep(rejections)


class BatchStore:
    """Stores batches for the live service: InfluxDB, else the spool; refused messages to quarantine.

    Args:
        influx: the InfluxDB client.
        spool: where lines wait while InfluxDB is away.
        quarantine: where rejections go.
        on_spooled: called after lines went to the spool (wakes the spool drain).
    """

    def __init__(
        self, influx: InfluxClient, spool: Spool, quarantine: Quarantine, *, on_spooled: Callable[[], None]
    ) -> None:
        self._influx = influx
        self._spool = spool
        self._quarantine = quarantine
        self._on_spooled = on_spooled

    async def store(
        self, lines: list[str], spans: list[Span], rejections: list[Rejection], *,
        after: asyncio.Future[None] | None = None,
    ) -> None:
        """Store one batch: its lines (see the module docstring) and its rejections, those found here too.

        Args:
            lines: the batch's lines.
            spans: which lines belong to which message.
            rejections: the batch's rejections so far.
            after: the store of the batch before this one, when it is still running. This batch's lines are
                written to InfluxDB at once; anything else (the spool, the bisection of refused lines, the
                quarantine) waits until that store is done, so that they receive batches in order. What it
                raised is raised here too.
        """
        started = time.monotonic()
        if spans:
            rejections = rejections + await self._store_lines(lines, spans, after)
        if after is not None:
            await asyncio.shield(after)
        await self._quarantine.keep(rejections)
        metrics.BATCH_SECONDS.observe(time.monotonic() - started)

    async def _store_lines(self, lines: list[str], spans: list[Span], after: asyncio.Future[None] | None
                           ) -> list[Rejection]:
        """Write the lines of ``spans``; returns the rejections of the messages InfluxDB refuses."""
        if after is not None and not len(self._spool):  # an earlier batch is being written: overlap the write
            part = lines[spans[0].start : spans[-1].end]
            try:
                await self._influx.write("\n".join(part).encode())
            except InfluxUnavailable as exc:
                await asyncio.shield(after)
                await self._spool_instead(part, exc)
                return []
            except InfluxRejected:
                pass  # found below, in order, by the one bisection
            else:
                self._written(part)
                return []
            await asyncio.shield(after)
        elif after is not None:
            await asyncio.shield(after)
        return await find_refused(self._write, lines, spans)

    async def _write(self, part: list[str]) -> None:
        if len(self._spool):  # an earlier write went to the spool: keep the order, it is replayed first
            await self._to_spool(part)
            return
        try:
            await self._influx.write("\n".join(part).encode())
        except InfluxUnavailable as exc:
            await self._spool_instead(part, exc)
            return
        self._written(part)

    @staticmethod
    def _written(part: list[str]) -> None:
        metrics.POINTS.inc(len(part))
        metrics.BATCHES.labels("written").inc()

    async def _spool_instead(self, part: list[str], exc: InfluxUnavailable) -> None:
        """InfluxDB could not take ``part``: log why, then spool it."""
        metrics.BATCHES.labels("spooled").inc()
        if isinstance(exc, InfluxRefused):
            count_refusal(exc)
            log.error("operator action needed, spooling %d lines meanwhile: %s", len(part), exc)
        else:
            log.warning("InfluxDB unavailable, spooling %d lines: %s", len(part), exc)
        await self._to_spool(part)

    async def _to_spool(self, lines: list[str]) -> None:
        body = "\n".join(lines).encode()
        await retry(  # while the spool is full, acknowledgements wait: the broker keeps the messages meanwhile
            lambda: asyncio.to_thread(self._spool.append, body),
            retry_on=(SpoolFull,),
            what="spooling (waiting for InfluxDB to drain the spool)",
            first=1.0,
            max_delay=1.0,
            on_retry=lambda exc: metrics.SPOOL_FULL.inc(),
        )
        metrics.SPOOL_BYTES.set(self._spool.bytes)
        metrics.SPOOLED_LINES.inc(len(lines))
        self._on_spooled()
