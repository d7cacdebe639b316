"""Run one ingest process in the foreground: ``stadtpuls ingest`` itself, and each worker of ``--workers N``."""

from __future__ import annotations

import asyncio

from prometheus_client import start_http_server

from ingest.service import IngestOptions, IngestService
from stadtpuls.allocator import pin_mmap_threshold
from stadtpuls.settings import Settings

METRICS_ADDR = "0.0.0.0"  # noqa: S104 - Prometheus scrapes ingest from another host


def run_ingest(settings: Settings, options: IngestOptions, metrics_port: int) -> None:
    """Receive, decode and write until SIGTERM or SIGINT, then flush and return.

    Args:
        settings: where the broker, InfluxDB and the registry are.
        options: how this process subscribes and buffers.
        metrics_port: serve Prometheus /metrics on this port; 0 = off.

    Raises:
        IngestError: a dependency is unreachable or misconfigured at start-up.
    """
    pin_mmap_threshold()  # RSS stays flat while the deduplication memory is rebuilt (stadtpuls/allocator.py)
    if metrics_port:
        start_http_server(metrics_port, addr=METRICS_ADDR)
    asyncio.run(_serve(settings, options))


async def _serve(settings: Settings, options: IngestOptions) -> None:
    service = IngestService(settings, options)
    service.install_signal_handlers()
    await service.run()
