"""Live mode: the town in real time (or accelerated ×N), published to MQTT as the network server would.

The simulated clock starts at the wall clock (or at ``start``) and runs ``speed`` times faster. Each local day
is generated unit by unit while the previous one is being published, so generation never stalls the
schedule; every envelope is published when its delivery time comes due. The result reports how far behind
schedule publishing ever fell.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from firmware_sim.engine import Simulation
from firmware_sim.faults import Fault, ground_truth, load_spec, resolve_faults, write_ground_truth
from firmware_sim.mqtt import MqttPublisher, open_publisher
from firmware_sim.radio import Delivery, RadioStats
from firmware_sim.town import Town, load_town, register_town
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)
FAULT_HORIZON = 7 * 86400.0  # s of simulated time over which random faults spread when the run has no end
BATCH_SLACK = 0.002  # s; messages due within this are published without sleeping


@dataclass(slots=True)
class LiveResult:
    """Counts of a live run."""

    published: int = 0
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    max_lag: float = 0.0  # s behind schedule, worst case
    lag_p99: float = 0.0
    radio: RadioStats = field(default_factory=RadioStats)
    faults: int = 0

    @property
    def rate(self) -> float:
        """Envelopes published per wall-clock second."""
        return self.published / self.wall_seconds if self.wall_seconds else 0.0


class Schedule:
    """Deliveries of the current and the next local day, handed out in delivery order."""

    def __init__(self, sim: Simulation, town: Town, first: date) -> None:
        self.sim = sim
        self.town = town
        self.next_day = first
        self.ready: list[Delivery] = []
        self.pos = 0
        self._pending: list[Delivery] = []
        self._steps: Iterator[list[Delivery]] | None = None
        self.boundary_ns = 0  # deliveries from here on wait for the next day's generation

    def due_for_next_day(self) -> bool:
        """Whether the current day is published up to where the next day's uplinks begin."""
        return self.pos >= len(self.ready) or self.ready[self.pos][0] >= self.boundary_ns

    def _start_next(self) -> None:
        self._steps = self.sim.day_steps(self.next_day)
        self.next_day += timedelta(days=1)

    def work(self) -> bool:
        """Generate one unit of the next day; True if more work remains."""
        if self._steps is None:
            self._start_next()
        assert self._steps is not None
        try:
            self._pending += next(self._steps)
        except StopIteration:
            return False
        else:
            return True

    def advance(self) -> None:
        """Make the next day current (finishing its generation first)."""
        while self.work():
            pass
        rest = self.ready[self.pos :] + self._pending
        rest.sort(key=lambda d: d[0])
        self.ready, self.pos, self._pending, self._steps = rest, 0, [], None
        boundary = datetime.combine(self.next_day, datetime.min.time(), tzinfo=self.town.timezone)
        self.boundary_ns = int(boundary.timestamp() * 1e9)


def _resolve_faults(town: Town, spec_path: Path | None, *, start: float, end: float, seed: int,
                    ground_truth_path: Path | None) -> list[Fault]:
    if spec_path is None:
        return []
    faults = resolve_faults(load_spec(spec_path), town, start=start, end=end, seed=seed)
    target = ground_truth_path or spec_path.with_suffix(".truth.json")
    write_ground_truth(target, ground_truth(faults, town, start=start, end=end, seed=seed))
    log.info("%d faults; ground truth written to %s", len(faults), target)
    return faults


async def run_live(
    settings: Settings,
    *,
    town: str | Path = "default",
    speed: float = 60.0,
    duration: float | None = None,
    fmt: str = "mixed",
    seed: int = 1,
    faults: Path | None = None,
    ground_truth_path: Path | None = None,
    register: bool = True,
    qos: int = 0,
    start: datetime | None = None,
    client_id: str = "stadtpuls-simulator",
) -> LiveResult:
    """Publish the town's uplinks to MQTT on an accelerated clock until ``duration`` wall seconds pass.

    Args:
        settings: where the broker (``settings.mqtt``) and the registry are.
        town: a town name or YAML path.
        speed: simulated seconds per wall-clock second.
        duration: wall-clock seconds to run; None runs until cancelled.
        fmt: envelope format, ``tts``, ``chirpstack`` or ``mixed``.
        seed: the random seed (same seed, same town, same start → same uplinks).
        faults: a fault spec file; its ground truth goes to ``ground_truth_path``.
        ground_truth_path: where the faults' ground truth is written (default: the spec's ``.truth.json``).
        register: register the town's devices in the registry first.
        qos: MQTT QoS 0 or 1.
        start: the simulated start time (default: now; without a zone, the town's local time).
        client_id: the MQTT client id.

    Returns:
        Counts, including how far publishing fell behind its schedule.
    """
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    the_town = load_town(town)
    if register:
        await asyncio.to_thread(register_town, the_town, settings.registry_url)
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=the_town.timezone)  # a naive start is the town's local time
    sim_start = (start or datetime.now(the_town.timezone)).timestamp()
    horizon = duration * speed if duration else FAULT_HORIZON
    fault_list = _resolve_faults(the_town, faults, start=sim_start, end=sim_start + horizon, seed=seed,
                                 ground_truth_path=ground_truth_path)
    sim = Simulation(the_town, seed=seed, fmt=fmt, faults=fault_list, run_start=sim_start)
    first = datetime.fromtimestamp(sim_start, the_town.timezone).date()
    result = LiveResult(faults=len(fault_list))
    publisher = await open_publisher(settings.mqtt.target, client_id=client_id, qos=qos)
    try:
        await _publish_loop(sim, the_town, first, publisher, sim_start=sim_start, speed=speed,
                            duration=duration, result=result)
    finally:
        result.radio = sim.stats
        await publisher.close()
    return result


async def _publish_loop(sim: Simulation, town: Town, first: date, publisher: MqttPublisher, *, sim_start: float,
                        speed: float, duration: float | None, result: LiveResult) -> None:
    schedule = Schedule(sim, town, first)
    schedule.advance()
    wall_start = time.monotonic()
    sim_end_ns = int((sim_start + duration * speed) * 1e9) if duration else None
    duration_s = duration or 0.0
    start_ns = int(sim_start * 1e9)
    lags: list[float] = []
    generating = True
    try:
        while True:
            if schedule.due_for_next_day():
                schedule.advance()
                generating = True
                continue
            deliver_ns, topic, payload = schedule.ready[schedule.pos]
            if sim_end_ns is not None and (deliver_ns >= sim_end_ns or time.monotonic() - wall_start >= duration_s):
                break
            due = wall_start + (deliver_ns - start_ns) / 1e9 / speed
            now = time.monotonic()
            if due > now + BATCH_SLACK:
                await publisher.flush()
                if generating:
                    generating = schedule.work()
                    continue
                await asyncio.sleep(min(due - now, 0.5))
                continue
            if deliver_ns >= start_ns:
                publisher.publish(topic, payload)
                result.published += 1
                lag = now - due
                if lag > result.max_lag:
                    result.max_lag = lag
                if result.published % 256 == 0:
                    lags.append(max(0.0, lag))
                    await publisher.flush()
            schedule.pos += 1
    finally:
        result.wall_seconds = time.monotonic() - wall_start
        result.sim_seconds = result.wall_seconds * speed
        if lags:
            lags.sort()
            result.lag_p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
