"""``stadtpuls ingest --workers N``: N ingest processes on one machine, sharing the load through MQTT.

Each worker is an ordinary ingest process with its own stable client id (``<id>-w0``, ``<id>-w1``, ...) in
one shared-subscription group, so the broker hands each message to exactly one of them; there is no
coordination between workers beyond that. The parent only starts them, restarts one that dies, and passes
SIGTERM on so that each flushes its batches before exiting. Worker N serves /metrics on ``port + N``.

A worker that dies is started again after a delay that doubles with each crash (1 s, 2 s, 4 s ... up to 60 s)
and starts over at 1 s once the worker has stayed up for a while. A worker that crashes again and again in
a short time is not restarted: the parent stops the others and exits with :class:`WorkerCrashLoop`.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

from ingest.run import run_ingest
from ingest.service import IngestOptions
from stadtpuls.errors import StadtpulsError
from stadtpuls.logs import configure_logging
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.2  # s between looks at the workers


class WorkerCrashLoop(StadtpulsError):
    """A worker crashed too often in too short a time; the supervisor gave up."""


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    """When and how often a crashed worker is started again."""

    first_delay: float = 1.0  # s before the first restart
    max_delay: float = 60.0  # s; the delay doubles per crash up to this
    stable_after: float = 120.0  # s up after which a crash counts as the first one again
    max_crashes: int = 5  # crashes of one worker within `window` after which the supervisor gives up
    window: float = 300.0  # s


class WorkerProcess(Protocol):
    """What the supervisor needs of a started process (``multiprocessing.Process`` has it)."""

    @property
    def name(self) -> str:
        """The process's name."""

    @property
    def pid(self) -> int | None:
        """The process id, None before start."""

    @property
    def exitcode(self) -> int | None:
        """The exit code, None while running."""

    def is_alive(self) -> bool:
        """Whether the process is running."""

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM)."""

    def join(self, timeout: float | None = None) -> None:
        """Wait for the process to end, at most ``timeout`` seconds."""


ProcessFactory = Callable[[int], WorkerProcess]  # worker index → a started process


@dataclass(slots=True)
class _Slot:
    """One worker's place: its process (None while waiting to restart) and its crash history."""

    index: int
    process: WorkerProcess | None = None
    started_at: float = 0.0
    restart_at: float = 0.0
    delay: float = 0.0
    crashes: deque[float] = field(default_factory=deque)


class Supervisor:
    """Keeps ``workers`` processes running with restart backoff until :meth:`stop` or a crash loop.

    Args:
        start: starts worker ``index`` and returns its process.
        workers: how many.
        policy: restart delays and the crash limit.
        clock: monotonic seconds (tests pass a fake one).
        sleep: waits seconds (tests pass a fake one).
    """

    def __init__(
        self,
        start: ProcessFactory,
        workers: int,
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self._start = start
        self._clock = clock
        self._sleep = sleep
        self._slots = [_Slot(i, delay=self.policy.first_delay) for i in range(workers)]
        self._stopping = False
        self.exit_codes: list[int] = []

    def run(self) -> int:
        """Start every worker and watch them until :meth:`stop`; returns the exit code for the command.

        Raises:
            WorkerCrashLoop: a worker crashed ``max_crashes`` times within ``window`` seconds.
        """
        for slot in self._slots:
            self._launch(slot)
        try:
            while not self._stopping:
                for slot in self._slots:
                    self._tend(slot)
                self._sleep(POLL_INTERVAL)
        except WorkerCrashLoop:
            self.stop()
            self._join()
            raise
        self._join()
        return max((abs(code) for code in self.exit_codes if code not in (0, -signal.SIGTERM)), default=0)

    def stop(self) -> None:
        """Stop restarting and send SIGTERM to every running worker (each flushes, then exits)."""
        self._stopping = True
        for slot in self._slots:
            if slot.process is not None and slot.process.is_alive():
                slot.process.terminate()

    def _launch(self, slot: _Slot) -> None:
        slot.process = self._start(slot.index)
        slot.started_at = self._clock()
        log.info("started worker %s (pid %s)", slot.process.name, slot.process.pid)

    def _tend(self, slot: _Slot) -> None:
        now = self._clock()
        if slot.process is None:
            if now >= slot.restart_at and not self._stopping:
                self._launch(slot)
            return
        if slot.process.is_alive() or self._stopping:
            return
        self._crashed(slot, now)

    def _crashed(self, slot: _Slot, now: float) -> None:
        process, slot.process = slot.process, None
        assert process is not None
        policy = self.policy
        if now - slot.started_at >= policy.stable_after:
            slot.delay = policy.first_delay
        slot.crashes.append(now)
        while slot.crashes and now - slot.crashes[0] > policy.window:
            slot.crashes.popleft()
        if len(slot.crashes) >= policy.max_crashes:
            log.error("worker %s exited with code %s; not restarting it", process.name, process.exitcode)
            raise WorkerCrashLoop(
                f"ingest worker {process.name} crashed {len(slot.crashes)} times within {policy.window:g} s "
                f"(last exit code {process.exitcode}); stopped all workers, see the log above for the cause"
            )
        log.error("worker %s exited with code %s; restarting it in %g s", process.name, process.exitcode, slot.delay)
        slot.restart_at = now + slot.delay
        slot.delay = min(slot.delay * 2, policy.max_delay)

    def _join(self) -> None:
        for slot in self._slots:
            if slot.process is not None:
                slot.process.join()
                self.exit_codes.append(slot.process.exitcode or 0)


def _worker_main(settings: Settings, options: IngestOptions, metrics_port: int) -> None:
    configure_logging(logging.INFO, log_format=settings.log.format, tag=options.client_id)
    try:
        run_ingest(settings, options, metrics_port)
    except StadtpulsError as exc:
        log.error("%s", exc)  # noqa: TRY400 - one line in the worker's log instead of a traceback
        sys.exit(exc.exit_code)


def supervise(
    settings: Settings,
    options: IngestOptions,
    workers: int,
    metrics_port: int,
    *,
    policy: RestartPolicy | None = None,
) -> int:
    """Run ``workers`` ingest processes until SIGTERM/SIGINT; returns the exit code.

    Raises:
        WorkerCrashLoop: a worker kept crashing (see :class:`RestartPolicy`).
    """
    ctx = multiprocessing.get_context("spawn")

    def start(index: int) -> WorkerProcess:
        worker_options = dataclasses.replace(options, client_id=f"{options.client_id}-w{index}")
        port = metrics_port + index if metrics_port else 0
        proc = ctx.Process(target=_worker_main, args=(settings, worker_options, port), name=worker_options.client_id)
        proc.start()
        return proc

    supervisor = Supervisor(start, workers, policy=policy)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        supervisor.stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    return supervisor.run()
