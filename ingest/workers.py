"""``stadtpuls ingest --workers N``: N ingest processes on one machine, sharing the load through MQTT.

Each worker is an ordinary ingest process with its own stable client id (``<id>-w0``, ``<id>-w1``, ...) in
one shared-subscription group, so the broker hands each message to exactly one of them; there is no
coordination between workers beyond that. The parent only starts them, restarts one that dies, and passes
SIGTERM on so that each flushes its batches before exiting. Worker N serves /metrics on ``port + N``.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import signal
import time
from multiprocessing.process import BaseProcess
from types import FrameType

from ingest.service import IngestOptions
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)

METRICS_ADDR = "0.0.0.0"  # noqa: S104 - Prometheus scrapes ingest from another host
RESTART_DELAY = 2.0  # s before a crashed worker is started again


def _worker_main(settings: Settings, options: IngestOptions, metrics_port: int) -> None:
    from ingest.cli import _run_one  # imported here: the child starts from a fresh interpreter

    fmt = f"%(asctime)s %(levelname)s {options.client_id} %(name)s: %(message)s"
    logging.basicConfig(level=logging.INFO, format=fmt)
    logging.getLogger("gmqtt").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    _run_one(settings, options, metrics_port)


def supervise(settings: Settings, options: IngestOptions, workers: int, metrics_port: int) -> int:
    """Run ``workers`` ingest processes until SIGTERM/SIGINT; returns the exit code."""
    ctx = multiprocessing.get_context("spawn")
    stopping = False

    def start(index: int) -> BaseProcess:
        worker_options = dataclasses.replace(options, client_id=f"{options.client_id}-w{index}")
        port = metrics_port + index if metrics_port else 0
        proc = ctx.Process(target=_worker_main, args=(settings, worker_options, port), name=worker_options.client_id)
        proc.start()
        log.info("started worker %s (pid %s)", worker_options.client_id, proc.pid)
        return proc

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for proc in procs:
            if proc.pid is not None and proc.is_alive():
                proc.terminate()  # SIGTERM: the worker flushes and exits

    procs = [start(i) for i in range(workers)]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping:
        for i, proc in enumerate(procs):
            if not proc.is_alive() and not stopping:
                log.error("worker %s exited with code %s; restarting it", proc.name, proc.exitcode)
                time.sleep(RESTART_DELAY)
                if not stopping:
                    procs[i] = start(i)
        time.sleep(0.2)
    for proc in procs:
        proc.join()
    return max((abs(p.exitcode or 0) for p in procs if p.exitcode not in (0, -signal.SIGTERM)), default=0)
