"""Sandboxed (JavaScript) codecs off the event loop: a slow model never holds up the others.

A vendor's JavaScript codec may take up to its time limit (100 ms) per uplink. The pipeline leaves such a decode
to this pool (its outcome comes back with ``deferred`` set); the pool runs it in a worker process of the model
(:class:`devices.jsworker.JsWorker`) while the event loop goes on receiving, decoding natively and acknowledging.

- **Lanes.** Each JavaScript model gets ``workers`` lanes, each a FIFO queue with one worker process; a device
  always uses the same lane (by its DevEUI), so its uplinks are decoded and handed on in the order they came.
- **Nothing acknowledged early.** A finished outcome goes to the batcher like any other and is acknowledged only
  after its batch is stored. A duplicate (a gateway copy, a redelivery after a reconnect) of an uplink still in
  a lane queues behind it, so its acknowledgement cannot overtake the stored original. What is still queued when
  ingest stops is not acknowledged: the broker delivers it again.
- **Bounded.** A lane holds at most ``backlog`` uplinks. One more is not decoded but quarantined (stage
  ``codec``) with the reason and its radio record written, to be decoded later with ``stadtpuls quarantine
  replay``: a model whose codec cannot keep up with its uplinks never fills the broker's in-flight window, which
  would stop every other model too.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from pathlib import Path

from devices.codecs.base import DecodeResult
from devices.jscodec import DEFAULT_TIME_LIMIT_MS
from devices.jsworker import ANSWER_TIMEOUT, JsWorker
from ingest import metrics
from ingest.guard import internal_rejection
from ingest.records import Outcome

log = logging.getLogger(__name__)

DEFAULT_BACKLOG = 1000  # uplinks waiting per lane before more are quarantined
Emit = Callable[[Outcome], None]


class _Lane:
    """One FIFO queue of outcomes and the worker process that decodes them."""

    def __init__(self, model: str, worker: JsWorker) -> None:
        self.model = model
        self.worker = worker
        self.queue: deque[Outcome] = deque()
        self.wake = asyncio.Event()


class CodecPool:
    """Decodes deferred outcomes in worker processes and hands them on, in order per device.

    Args:
        emit: where finished outcomes go (the batcher's ``add``).
        workers: lanes (worker processes) per JavaScript model.
        backlog: outcomes one lane may hold; more are quarantined (see the module docstring).
        time_limit_ms: CPU time one decode may take in the sandbox, ms.
        answer_timeout: s (wall clock) a worker may take before it is replaced.
    """

    def __init__(
        self,
        emit: Emit,
        *,
        workers: int = 1,
        backlog: int = DEFAULT_BACKLOG,
        time_limit_ms: float = DEFAULT_TIME_LIMIT_MS,
        answer_timeout: float = ANSWER_TIMEOUT,
    ) -> None:
        self._emit = emit
        self._workers = max(1, workers)
        self._backlog = backlog
        self._time_limit_ms = time_limit_ms
        self._answer_timeout = answer_timeout
        self._lanes: dict[tuple[str, int], _Lane] = {}
        self._tasks: list[asyncio.Task[None]] = []
        # the dedup keys of the uplinks in lanes, each with its lane and how many outcomes with it wait there;
        # empty whenever no lane holds anything (the caller checks it before calling :meth:`take` for others)
        self.held: dict[str, tuple[_Lane, int]] = {}
        self._failed: asyncio.Future[None] | None = None

    @property
    def waiting(self) -> int:
        """Outcomes queued in all lanes."""
        return sum(len(lane.queue) for lane in self._lanes.values())

    def take(self, outcome: Outcome) -> bool:
        """Take ``outcome`` if it belongs in a lane; False: the caller hands it on itself.

        A deferred outcome is queued in its model's lane, or, when that lane is full, completed as a codec
        rejection and returned to the caller. A duplicate whose original is still queued is queued behind it.
        """
        deferred = outcome.deferred
        uplink = outcome.uplink
        if deferred is None:
            if not self.held or uplink is None:
                return False
            held = self.held.get(uplink.dedup_key)
            if held is None:
                return False
            self._queue(held[0], outcome)
            return True
        assert uplink is not None
        lane = self._lane(outcome.model, deferred.codec_js, uplink.dev_eui)
        if len(lane.queue) >= self._backlog:
            metrics.CODEC_OVERFLOW.labels(outcome.model).inc()
            self._complete(outcome, [
                f"not decoded: {len(lane.queue)} uplinks wait for this model's JavaScript codec "
                "(STADTPULS_JS_CODEC_BACKLOG); decode it later with 'stadtpuls quarantine replay'"
            ])
            return False
        self._queue(lane, outcome)
        return True

    def _queue(self, lane: _Lane, outcome: Outcome) -> None:
        assert outcome.uplink is not None
        key = outcome.uplink.dedup_key
        held = self.held.get(key)
        self.held[key] = (lane, held[1] + 1 if held else 1)
        lane.queue.append(outcome)
        metrics.CODEC_BACKLOG.labels(lane.model).inc()
        lane.wake.set()

    def _lane(self, model: str, path: Path, dev_eui: str) -> _Lane:
        key = (model, hash(dev_eui) % self._workers)
        lane = self._lanes.get(key)
        if lane is None:
            worker = JsWorker(path, time_limit_ms=self._time_limit_ms, answer_timeout=self._answer_timeout)
            lane = self._lanes[key] = _Lane(model, worker)
            task = asyncio.get_running_loop().create_task(self._run_lane(lane), name=f"codec lane {model}")
            task.add_done_callback(self._lane_ended)
            self._tasks.append(task)
            log.info("JavaScript codec of %s runs in worker process %d of %d", model, key[1] + 1, self._workers)
        return lane

    async def _run_lane(self, lane: _Lane) -> None:
        queue = lane.queue
        while True:
            while not queue:
                lane.wake.clear()
                await lane.wake.wait()
            outcome = queue[0]
            deferred = outcome.deferred
            if deferred is not None:
                restarts = lane.worker.restarts
                result = await lane.worker.decode(deferred.f_port, deferred.payload)
                if lane.worker.restarts != restarts:
                    metrics.CODEC_RESTARTS.labels(lane.model).inc()
                self._finish(outcome, result)
            queue.popleft()
            metrics.CODEC_BACKLOG.labels(lane.model).dec()
            self._release(outcome)
            self._emit(outcome)

    def _release(self, outcome: Outcome) -> None:
        assert outcome.uplink is not None
        key = outcome.uplink.dedup_key
        lane, count = self.held[key]
        if count <= 1:
            del self.held[key]
        else:
            self.held[key] = (lane, count - 1)

    def _complete(self, outcome: Outcome, errors: list[str]) -> None:
        self._finish(outcome, {"data": {}, "warnings": [], "errors": errors})

    @staticmethod
    def _finish(outcome: Outcome, result: DecodeResult) -> None:
        deferred = outcome.deferred
        assert deferred is not None
        try:
            deferred.complete(result)
        except Exception as exc:  # noqa: BLE001 - whatever one message raises, it is quarantined, never lost
            outcome.deferred = None
            outcome.rejection = internal_rejection(outcome.message, exc)

    def _lane_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception() or RuntimeError(f"{task.get_name()} ended")
        if self._failed is None:
            self._failed = asyncio.get_running_loop().create_future()
        if not self._failed.done():
            self._failed.set_exception(error)

    async def run(self) -> None:
        """Watch the lanes: returns never, raises what a lane task died of (ingest then exits)."""
        if self._failed is None:
            self._failed = asyncio.get_running_loop().create_future()
        await self._failed

    async def close(self) -> None:
        """Stop the lanes and their worker processes; what is still queued stays unacknowledged."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for lane in self._lanes.values():
            await lane.worker.close()
            lane.queue.clear()
            metrics.CODEC_BACKLOG.labels(lane.model).set(0)
        self._tasks.clear()
        self.held.clear()
