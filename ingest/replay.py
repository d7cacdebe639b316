"""Replay quarantined messages through ingest after a fix (a device registered, a codec corrected).

Each stored raw message goes through :class:`ingest.offline.OfflineIngest` again, exactly as if it had just
arrived: the same pipeline and deduplication (of two quarantined copies of one uplink, one is stored), the same
bisection of writes InfluxDB refuses. Re-writing an uplink produces the same point, so a replay is safe to
repeat. A message that is stored now is marked replayed; one that fails again (in the pipeline, or refused by
InfluxDB) stays in quarantine with the new stage and reason.

A row may stand for several identical rejections (``count``): they were the same message, so it is run once.

Lines the spool drain could not write (InfluxDB refused them for good) are kept under the topic ``spool`` with
the line protocol itself as payload; a replay writes them again as they are.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from devices.registry import DeviceRegistry
from ingest.dedup import DEDUP_WINDOW, RecentKeys
from ingest.directory import DeviceDirectory
from ingest.drain import SPOOL_TOPIC
from ingest.offline import OfflineIngest
from ingest.pipeline import Pipeline
from ingest.quarantine import QuarantineStore
from ingest.records import AckToken, Message, Rejection
from ingest.store import Span, find_refused
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings
from stadtpuls.tables import QuarantinedMessage

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayReport:
    """What a replay did."""

    replayed: list[int] = field(default_factory=list)  # ids accepted now
    failed: dict[int, str] = field(default_factory=dict)  # id → the new reason
    points: int = 0


class _Row(AckToken):
    """The ack token of a replayed message: its quarantine row."""

    __slots__ = ("id",)

    def __init__(self, row_id: int) -> None:
        self.id = row_id


async def replay(settings: Settings, rows: list[QuarantinedMessage], *, store: QuarantineStore) -> ReplayReport:
    """Run ``rows`` through ingest again and write what comes out.

    Raises:
        stadtpuls.influx.InfluxUnavailable: InfluxDB is unreachable (nothing is marked replayed).
    """
    directory = DeviceDirectory(DeviceRegistry(settings.registry_url))
    directory.load()
    pipeline = Pipeline(directory.get, dedup=RecentKeys(DEDUP_WINDOW),
                        keep_raw_payload=settings.ingest.keep_raw_payload)
    report = ReplayReport()
    stored: list[int] = []

    async def keep(rejections: list[Rejection]) -> None:
        for r in rejections:
            token = r.message.ack
            assert isinstance(token, _Row)
            report.failed[token.id] = r.reason
            await asyncio.to_thread(store.update_reason, token.id, r.stage, r.reason)

    def on_stored(acks: list[AckToken]) -> None:
        stored.extend(a.id for a in acks if isinstance(a, _Row))

    spooled = [row for row in rows if row.topic == SPOOL_TOPIC]
    async with InfluxClient.from_settings(settings.influx) as influx:
        await influx.create_database()
        offline = OfflineIngest(pipeline, influx, keep, on_stored=on_stored)
        await offline.feed(
            Message(row.topic, row.payload, _arrival_ns(row), _Row(row.id)) for row in rows if row.topic != SPOOL_TOPIC
        )
        counts = await offline.flush()
        report.points = counts.lines
        if spooled:
            report.points += await _replay_lines(influx, spooled, keep, on_stored)
    report.replayed = [i for i in stored if i not in report.failed]
    store.mark_replayed(report.replayed)
    return report


async def _replay_lines(
    influx: InfluxClient,
    rows: list[QuarantinedMessage],
    keep: Callable[[list[Rejection]], Awaitable[None]],
    on_stored: Callable[[list[AckToken]], None],
) -> int:
    """Write quarantined spool lines (raw line protocol, topic ``spool``) as they are; returns the lines written."""
    lines: list[str] = []
    spans: list[Span] = []
    for row in rows:
        text = row.payload.decode("utf-8", errors="replace").strip("\n")
        start = len(lines)
        lines.extend(text.split("\n"))
        spans.append(Span(start, len(lines), Message(row.topic, row.payload, _arrival_ns(row), _Row(row.id))))
    written = 0

    async def write(part: list[str]) -> None:
        nonlocal written
        await influx.write("\n".join(part).encode())
        written += len(part)

    refused = await find_refused(write, lines, spans)
    await keep(refused)
    on_stored([span.message.ack for span in spans if span.message.ack is not None])
    return written


def _arrival_ns(row: QuarantinedMessage) -> int:
    """An envelope without a server time is stored at the time it first arrived, not at the replay."""
    try:
        return int(row.received_at.timestamp() * 1e9)
    except (OverflowError, ValueError, OSError):
        return time.time_ns()
