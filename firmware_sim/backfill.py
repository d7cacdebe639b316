"""Backfill: a chosen period of the town, straight through the ingest pipeline into InfluxDB, as fast as possible.

The town's units are split across worker processes. Each worker generates its units day by day and feeds every
envelope to :class:`ingest.offline.OfflineIngest`: the same pipeline, deduplication, bisection of refused writes
and quarantine as the MQTT ingest service, with line protocol written in batches with a few writes in flight.
MQTT is skipped; nothing else is.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import queue
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from firmware_sim.engine import Simulation, split_units, unit_specs
from firmware_sim.faults import Fault, ground_truth, load_spec, resolve_faults, write_ground_truth
from firmware_sim.radio import RadioStats
from firmware_sim.town import Town, load_town, register_town
from stadtpuls.settings import InfluxSettings, Settings


@dataclass(slots=True)
class BackfillResult:
    """Counts of a backfill run."""

    days: int = 0
    uplinks: int = 0  # distinct uplinks of registered devices that reached ingest
    messages: int = 0  # envelopes processed, duplicates included
    lines: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # stage → count
    radio: RadioStats = field(default_factory=RadioStats)
    wall_seconds: float = 0.0
    faults: int = 0

    def merge(self, part: dict[str, Any]) -> None:
        """Add the counts of one finished part of the run."""
        self.uplinks += part["uplinks"]
        self.messages += part["messages"]
        self.lines += part["lines"]
        for stage, n in part["rejected"].items():
            self.rejected[stage] = self.rejected.get(stage, 0) + n
        self.radio.add(RadioStats(**part["radio"]))


@dataclass(frozen=True, slots=True)
class _Job:
    index: int
    town: str
    units: list[str]
    first: date
    days: int
    seed: int
    fmt: str
    faults: list[Fault]
    run_start: float
    influx: InfluxSettings
    registry_url: str


class _Worker:
    """Generates, processes and writes one share of the units."""

    def __init__(self, job: _Job, progress: Any) -> None:
        from devices.registry import DeviceRegistry
        from ingest.dedup import DEDUP_WINDOW, RecentKeys
        from ingest.pipeline import Pipeline
        from ingest.quarantine import QuarantineStore

        self.job = job
        self.progress = progress
        town = load_town(job.town)
        self.sim = Simulation(town, seed=job.seed, fmt=job.fmt, faults=job.faults, run_start=job.run_start,
                              units=job.units)
        self.pipeline = Pipeline(DeviceRegistry(job.registry_url).get, dedup=RecentKeys(DEDUP_WINDOW))
        self.quarantine = QuarantineStore(job.registry_url)
        self.uplinks = 0

    async def run(self) -> dict[str, Any]:
        from ingest.offline import OfflineIngest
        from stadtpuls.influx import InfluxClient

        job = self.job
        async with InfluxClient.from_settings(job.influx, timeout=120) as client:
            offline = OfflineIngest(self.pipeline, client, self._keep)
            for n in range(job.days):
                await self._day(job.first + timedelta(days=n), offline)
                self.progress.put((job.index, n + 1, self.uplinks, offline.counts.lines))
            counts = await offline.flush()
        return {"uplinks": self.uplinks, "messages": counts.messages, "lines": counts.lines,
                "rejected": counts.rejected,
                "radio": {name: getattr(self.sim.stats, name) for name in RadioStats.__slots__}}

    async def _day(self, day: date, offline: Any) -> None:
        from ingest.records import Message

        await offline.feed((Message(topic, payload, ns) for ns, topic, payload in self.sim.day(day)), self._count)

    def _count(self, outcome: Any) -> None:
        if outcome.lines and not outcome.duplicate:  # a registered device's uplink, first copy
            self.uplinks += 1

    async def _keep(self, rejections: list[Any]) -> None:
        await asyncio.to_thread(self.quarantine.add_many, rejections)


def _work(job: _Job, progress: Any, results: Any) -> None:
    try:
        results.put(("ok", asyncio.run(_Worker(job, progress).run())))
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        results.put(("error", f"{type(exc).__name__}: {exc}"))


class BackfillError(RuntimeError):
    """A worker failed; the message names what went wrong."""


def _default_start(town: Town, days: int) -> date:
    return datetime.now(town.timezone).date() - timedelta(days=days)


def _resolve(town: Town, faults: Path | None, first: date, days: int, seed: int,
             truth: Path | None) -> tuple[list[Fault], float, float]:
    start = datetime.combine(first, datetime.min.time(), tzinfo=town.timezone).timestamp()
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), tzinfo=town.timezone).timestamp()
    if faults is None:
        return [], start, end
    fault_list = resolve_faults(load_spec(faults), town, start=start, end=end, seed=seed)
    write_ground_truth(truth or faults.with_suffix(".truth.json"),
                       ground_truth(fault_list, town, start=start, end=end, seed=seed))
    return fault_list, start, end


def run_backfill(
    settings: Settings,
    *,
    town: str | Path = "default",
    days: int = 365,
    start: date | None = None,
    fmt: str = "mixed",
    seed: int = 1,
    faults: Path | None = None,
    ground_truth_path: Path | None = None,
    workers: int | None = None,
    register: bool = True,
    on_progress: Callable[[int, int, int, int], None] | None = None,
) -> BackfillResult:
    """Write ``days`` days of the town from ``start`` through the ingest pipeline into InfluxDB.

    Args:
        settings: InfluxDB (``settings.influx``) and the registry/quarantine database.
        town: a town name or YAML path.
        days: how many local days.
        start: the first local day (default: ``days`` days before today).
        fmt: envelope format, ``tts``, ``chirpstack`` or ``mixed``.
        seed: the random seed.
        faults: a fault spec file; its ground truth goes to ``ground_truth_path``.
        ground_truth_path: where the faults' ground truth is written (default: the spec's ``.truth.json``).
        workers: worker processes (default: the number of CPUs).
        register: register the town's devices first (idempotent).
        on_progress: called with (days done, days total, uplinks, lines) as workers finish days.

    Raises:
        BackfillError: a worker failed (InfluxDB unreachable, ...).
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    the_town = load_town(town)
    first = start or _default_start(the_town, days)
    if register:
        register_town(the_town, settings.registry_url)
    fault_list, run_start, _ = _resolve(the_town, faults, first, days, seed, ground_truth_path)
    from stadtpuls.influx import ensure_database

    ensure_database(settings.influx)
    groups = split_units(unit_specs(the_town), workers or os.cpu_count() or 2)
    jobs = [_Job(i, str(town), g, first, days, seed, fmt, fault_list, run_start, settings.influx,
                 settings.registry_url)
            for i, g in enumerate(groups)]
    result = BackfillResult(days=days, faults=len(fault_list))
    began = time.monotonic()
    _run_jobs(jobs, result, on_progress)
    result.wall_seconds = time.monotonic() - began
    return result


def _run_jobs(jobs: list[_Job], result: BackfillResult,
              on_progress: Callable[[int, int, int, int], None] | None) -> None:
    ctx = mp.get_context("spawn")
    progress, results = ctx.Queue(), ctx.Queue()
    procs = [ctx.Process(target=_work, args=(job, progress, results), daemon=True) for job in jobs]
    for p in procs:
        p.start()
    latest = {job.index: (0, 0, 0) for job in jobs}
    finished: list[tuple[str, Any]] = []
    try:
        while len(finished) < len(jobs):
            try:
                index, done, uplinks, lines = progress.get(timeout=0.2)
                latest[index] = (done, uplinks, lines)
                if on_progress:
                    on_progress(min(v[0] for v in latest.values()), jobs[0].days,
                                sum(v[1] for v in latest.values()), sum(v[2] for v in latest.values()))
            except queue.Empty:
                pass
            while True:
                try:
                    finished.append(results.get_nowait())
                except queue.Empty:
                    break
            if len(finished) < len(jobs) and not any(p.is_alive() for p in procs) and results.empty():
                raise BackfillError("a backfill worker died without a result")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    errors = [detail for status, detail in finished if status == "error"]
    if errors:
        raise BackfillError("; ".join(errors))
    for _, part in finished:
        result.merge(part)


class ProgressBar:
    """A one-line progress bar on stderr."""

    def __init__(self, label: str, stream: Any = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.began = time.monotonic()
        self._shown = 0.0

    def __call__(self, done: int, total: int, uplinks: int, lines: int) -> None:
        """Redraw the bar (at most four times a second) after ``done`` of ``total`` days."""
        now = time.monotonic()
        if now - self._shown < 0.25 and done < total:
            return
        self._shown = now
        frac = done / total if total else 1.0
        elapsed = time.monotonic() - self.began
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        bar = "#" * int(frac * 30)
        self.stream.write(f"\r{self.label} [{bar:<30}] {done}/{total} days  {uplinks:,} uplinks  "
                          f"{lines:,} lines  {elapsed:4.0f}s elapsed, eta {eta:4.0f}s ")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        self.stream.write("\n")
        self.stream.flush()
