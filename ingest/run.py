"""Run one ingest process in the foreground: ``stadtpuls ingest`` itself, and each worker of ``--workers N``."""

from __future__ import annotations

import asyncio

from ingest import metrics
from ingest.service import IngestError, IngestOptions, IngestService
from stadtpuls.allocator import pin_mmap_threshold
from stadtpuls.settings import Settings

METRICS_ADDR = "0.0.0.0"  # noqa: S104 - Prometheus scrapes ingest from another host


def run_ingest(settings: Settings, options: IngestOptions, metrics_port: int) -> None:
    """Receive, decode and write until SIGTERM or SIGINT, then flush and return.

    Args:
        settings: where the broker, InfluxDB and the registry are.
        options: how this process subscribes and buffers.
        metrics_port: serve Prometheus /metrics, and /livez and /readyz, on this port; 0 = off.

    Raises:
        IngestError: a dependency is unreachable or misconfigured at start-up.
    """
    pin_mmap_threshold()  # RSS stays flat while the deduplication memory is rebuilt (stadtpuls/allocator.py)
    service = IngestService(settings, options)
    stop = None
    if metrics_port:
        try:
            stop = metrics.serve(metrics_port, METRICS_ADDR, live=service.liveness, ready=service.readiness)
        except OSError as exc:
            raise IngestError(
                f"cannot serve /metrics, /livez and /readyz on port {metrics_port} (STADTPULS_METRICS_PORT or "
                f"--metrics-port): {exc}"
            ) from exc
    try:
        asyncio.run(_serve(service))
    finally:
        if stop is not None:
            stop()


async def _serve(service: IngestService) -> None:
    service.install_signal_handlers()
    await service.run()
