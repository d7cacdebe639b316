"""Draining the spool: write spooled batches to InfluxDB in order once it is back.

A spooled batch is removed only after InfluxDB acknowledged it. While InfluxDB is unreachable the drain waits
with backoff. A spooled batch InfluxDB refuses (4xx) is split by :func:`ingest.store.find_refused`, line by
line groups, and the refused lines go to quarantine (the raw messages are not kept in the spool, so the
quarantined "message" is the refused line itself, under the topic ``spool``; ``stadtpuls quarantine replay``
writes such lines again as they are). A spool file that cannot be read (an I/O error, not UTF-8) is moved to
the spool's ``unreadable/`` folder with a note of why, never retried forever.
"""

from __future__ import annotations

import asyncio
import logging
import time

from ingest import metrics
from ingest.records import Message
from ingest.retry import MAX_DELAY, retry
from ingest.spool import Spool
from ingest.store import Quarantine, Span, count_refusal, find_refused
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable

log = logging.getLogger(__name__)

SPOOL_TOPIC = "spool"  # topic of spooled lines InfluxDB later refuses; the payload is the line, replay writes it as is


class SpoolDrain:
    """Replays the spool into InfluxDB, oldest batch first, whenever it holds something."""

    def __init__(
        self, influx: InfluxClient, spool: Spool, quarantine: Quarantine, *, max_backoff: float = MAX_DELAY
    ) -> None:
        self._influx = influx
        self._spool = spool
        self._quarantine = quarantine
        self._max_backoff = max_backoff
        self._spooled = asyncio.Event()
        if len(spool):
            self._spooled.set()
        metrics.SPOOL_BYTES.set(spool.bytes)

    def notify(self) -> None:
        """Something was spooled: drain it."""
        self._spooled.set()

    async def run(self) -> None:
        """Drain forever (cancel to stop; the spool stays on disk and is drained at the next start)."""
        while True:
            await self._spooled.wait()
            seq = self._spool.oldest_seq()
            if seq is None:
                self._spooled.clear()
                continue
            body = await self._read(seq)
            if body is None:
                continue
            try:
                await self._write(body)
            except InfluxRejected:
                await self._split(body)
            else:
                metrics.POINTS.inc(body.count(b"\n") + 1)
            await asyncio.to_thread(self._spool.remove, seq)
            metrics.SPOOL_BYTES.set(self._spool.bytes)
            metrics.BATCHES.labels("replayed").inc()

    async def _read(self, seq: int) -> bytes | None:
        """The batch ``seq``, or None when it cannot be read: then it is moved aside with the reason."""
        try:
            entry = await asyncio.to_thread(self._spool.oldest)
            assert entry is not None
            assert entry[0] == seq
            body = entry[1]
            body.decode()
        except (OSError, UnicodeDecodeError) as exc:
            reason = f"spool batch {seq} cannot be read: {type(exc).__name__}: {exc}"
            where = await asyncio.to_thread(self._spool.set_aside, seq, reason)
            metrics.SPOOL_UNREADABLE.inc()
            metrics.SPOOL_BYTES.set(self._spool.bytes)
            log.error("%s; moved to %s", reason, where)  # noqa: TRY400 - the reason says it all; no traceback
            return None
        return body

    def report(self) -> None:
        """Log what stays spooled on stop (it is durable already and drained at the next start)."""
        if len(self._spool):
            log.info(
                "stopping with %d batches (%d bytes) spooled; they are replayed at the next start",
                len(self._spool),
                self._spool.bytes,
            )

    async def _write(self, body: bytes) -> None:
        await retry(
            lambda: self._influx.write(body),
            retry_on=(InfluxUnavailable,),
            what="spool replay",
            max_delay=self._max_backoff,
            on_retry=self._on_retry,
        )

    @staticmethod
    def _on_retry(exc: BaseException) -> None:
        metrics.RETRIES.inc()
        count_refusal(exc)

    async def _write_lines(self, lines: list[str]) -> None:
        await self._write("\n".join(lines).encode())
        metrics.POINTS.inc(len(lines))

    async def _split(self, body: bytes) -> None:
        """A spooled batch InfluxDB refuses: find the refused lines and quarantine them."""
        lines = body.decode().split("\n")
        now = time.time_ns()
        spans = [Span(i, i + 1, Message(SPOOL_TOPIC, text.encode(), now)) for i, text in enumerate(lines)]
        await self._quarantine.keep(await find_refused(self._write_lines, lines, spans))
