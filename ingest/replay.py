"""Replay quarantined messages through ingest after a fix (a device registered, a codec corrected).

Each stored raw message goes through :class:`ingest.offline.OfflineIngest` again, exactly as if it had just
arrived: the same pipeline and deduplication (of two quarantined copies of one uplink, one is stored), the same
bisection of writes InfluxDB refuses. Re-writing an uplink produces the same point, so a replay is safe to
repeat. A message that is stored now is marked replayed; one that fails again (in the pipeline, or refused by
InfluxDB) stays in quarantine with the new stage and reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from devices.registry import DeviceRegistry
from ingest.dedup import DEDUP_WINDOW, RecentKeys
from ingest.directory import DeviceDirectory
from ingest.offline import OfflineIngest
from ingest.pipeline import Pipeline
from ingest.quarantine import QuarantineStore
from ingest.records import AckToken, Message, Rejection
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
    pipeline = Pipeline(directory.get, dedup=RecentKeys(DEDUP_WINDOW))
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

    async with InfluxClient.from_settings(settings.influx) as influx:
        await influx.create_database()
        offline = OfflineIngest(pipeline, influx, keep, on_stored=on_stored)
        await offline.feed(Message(row.topic, row.payload, _arrival_ns(row), _Row(row.id)) for row in rows)
        counts = await offline.flush()
    report.replayed = [i for i in stored if i not in report.failed]
    report.points = counts.lines
    store.mark_replayed(report.replayed)
    return report


def _arrival_ns(row: QuarantinedMessage) -> int:
    """An envelope without a server time is stored at the time it first arrived, not at the replay."""
    try:
        return int(row.received_at.timestamp() * 1e9)
    except (OverflowError, ValueError, OSError):
        return time.time_ns()
