"""Replay quarantined messages through the pipeline after a fix (a device registered, a codec corrected).

Each stored raw message runs through :meth:`Pipeline.process` again, exactly as if it had just arrived. Its
lines are written to InfluxDB (re-writing an uplink produces the same point, so a replay is safe to repeat).
A message that is accepted now is marked replayed; one that fails again stays in quarantine with the new
stage and reason.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from devices.registry import DeviceRegistry
from ingest.directory import DeviceDirectory
from ingest.pipeline import Pipeline
from ingest.quarantine import QuarantineStore
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


async def replay(settings: Settings, rows: list[QuarantinedMessage], *, store: QuarantineStore) -> ReplayReport:
    """Run ``rows`` through the pipeline again and write what comes out.

    Raises:
        stadtpuls.influx.InfluxError: InfluxDB is unreachable or refuses the write (nothing is marked).
    """
    directory = DeviceDirectory(DeviceRegistry(settings.registry_url))
    directory.load()
    pipeline = Pipeline(directory.get)
    report = ReplayReport()
    lines: list[str] = []
    for row in rows:
        outcome = pipeline.process(row.topic, row.payload, arrival_ns=_arrival_ns(row))
        lines.extend(outcome.lines)
        if outcome.rejection is None:
            report.replayed.append(row.id)
        else:
            report.failed[row.id] = outcome.rejection.reason
            store.update_reason(row.id, outcome.rejection.stage, outcome.rejection.reason)
    if lines:
        async with InfluxClient.from_settings(settings.influx) as influx:
            await influx.create_database()
            await influx.write("\n".join(lines).encode())
    report.points = len(lines)
    store.mark_replayed(report.replayed)
    return report


def _arrival_ns(row: QuarantinedMessage) -> int:
    """An envelope without a server time is stored at the time it first arrived, not at the replay."""
    try:
        return int(row.received_at.timestamp() * 1e9)
    except (OverflowError, ValueError, OSError):
        return time.time_ns()
