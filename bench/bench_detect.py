"""Speed of anomaly detection: a year of hourly data for 2,000 devices on one core.

Half the devices are measured levels (PM2.5-like: daily cycle and noise), half are people counters
(Poisson counts with opening hours and weekends); a few percent of each carry a planted fault so that events
are built too. Every device goes through :func:`processing.detect.detect` with its kind's preset, as the
service will call it. Data generation and the numba compile (or cache load) are outside the timing.

``--settings job`` uses the detection job's parameters instead (spikes must be short and return; counts are
compared with their hour of the week at the day's level of activity).

    .venv/bin/python bench/bench_detect.py [--devices 2000] [--settings presets|job] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from processing.detect import DAY, HOUR, PRESETS, Event, Settings, detect

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
START = 1_735_689_600.0  # 2025-01-01 00:00 UTC
HOURS = 365 * 24
TARGET_S = 30.0
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Device:
    """One synthetic device: its kind, a year of hourly values and its planted fault (times), if any."""

    kind: str
    values: FloatArray
    fault: tuple[float, float] | None


def level_device(rng: np.random.Generator, times: FloatArray) -> Device:
    """PM2.5-like hourly values; one in 20 devices freezes for two days."""
    values = 18 + 6 * np.sin(2 * np.pi * (times - START) / DAY) + rng.normal(0, 2.0, times.size)
    values = np.round(np.abs(values), 1)
    if rng.random() >= 0.05:
        return Device("level", values, None)
    at = int(rng.integers(1000, times.size - 100))
    values[at : at + 48] = values[at]
    return Device("level", values, (float(times[at]), float(times[at + 47])))


def count_device(rng: np.random.Generator, times: FloatArray) -> Device:
    """People per hour; one in 20 counters goes dead for a day."""
    hour = ((times - START) % DAY) / HOUR
    weekday = ((times - START) // DAY + 2) % 7  # 2025-01-01 was a Wednesday
    rate = np.where((hour >= 9) & (hour < 19), 250.0, 6.0) * np.where(weekday == 6, 0.3, 1.0)
    values = rng.poisson(rate).astype(np.float64)
    if rng.random() >= 0.05:
        return Device("count", values, None)
    at = int(rng.integers(1000, times.size - 100))
    values[at : at + 24] = 0.0
    return Device("count", values, (float(times[at]), float(times[at + 23])))


def make_town(devices: int, seed: int = 11) -> list[Device]:
    """``devices`` series of a year of hourly values, alternating level and count."""
    rng = np.random.default_rng(seed)
    times = START + np.arange(HOURS) * HOUR
    return [level_device(rng, times) if i % 2 == 0 else count_device(rng, times) for i in range(devices)]


def job_settings() -> dict[str, Settings]:
    """The detection job's parameters per kind."""
    from processing.anomaly_job import COUNT, LEVEL

    return {"level": LEVEL, "count": COUNT}


def run(
    town: list[Device], times: FloatArray, settings: dict[str, Settings] = PRESETS
) -> tuple[float, float, list[list[Event]]]:
    """Wall-clock and CPU seconds to detect on every device, and each device's events."""
    found = []
    began, began_cpu = time.perf_counter(), time.process_time()
    for device in town:
        found.append(detect(times, device.values, kind=device.kind, interval=HOUR, settings=settings[device.kind]))
    return time.perf_counter() - began, time.process_time() - began_cpu, found


def tally(town: list[Device], found: list[list[Event]]) -> str:
    """Planted faults found, and events on fault-free devices per 100 device-days."""
    faulty = [(d, events) for d, events in zip(town, found, strict=True) if d.fault is not None]
    hits = sum(any(e.start <= d.fault[1] + DAY and e.end >= d.fault[0] for e in events) for d, events in faulty
               if d.fault is not None)
    clean = [events for d, events in zip(town, found, strict=True) if d.fault is None]
    alarms = sum(len(events) for events in clean)
    per_100 = 100 * alarms / (len(clean) * HOURS / 24) if clean else 0.0
    return f"{hits} of {len(faulty)} planted faults found; {alarms} events on {len(clean)} fault-free devices " \
        f"({per_100:.3f} per 100 device-days)"


def main() -> None:
    """Pin to one core, warm up, time three runs, print and optionally write the figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--settings", choices=("presets", "job"), default="presets")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    chosen = job_settings() if args.settings == "job" else PRESETS
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    times = START + np.arange(HOURS) * HOUR
    town = make_town(args.devices)
    run(town[:4], times, chosen)  # compile or load the kernels
    timings, cpu_timings = [], []
    found: list[list[Event]] = []
    for _ in range(args.runs):
        seconds, cpu_seconds, found = run(town, times, chosen)
        timings.append(seconds)
        cpu_timings.append(cpu_seconds)
        print(f"{args.devices} devices × {HOURS} hourly values: {seconds:.2f} s ({cpu_seconds:.2f} CPU s)", flush=True)
    events = sum(len(e) for e in found)
    quality = tally(town, found)
    print(quality)
    best, median, cpu = min(timings), statistics.median(timings), statistics.median(cpu_timings)
    values = args.devices * HOURS
    summary = (
        f"| {args.devices:,} devices × {HOURS:,} hourly values ({values / 1e6:.1f} M) | {median:.1f} s "
        f"| {best:.1f} s | {cpu:.1f} s | {values / median / 1e6:.2f} M values/s | {1e3 * median / args.devices:.2f} ms "
        f"| {events:,} | < {TARGET_S:.0f} s: {'met' if median < TARGET_S else 'missed'} |"
    )
    print(summary)
    if args.write_docs:
        write_docs(summary, args.runs, quality, args.settings)


def write_docs(summary: str, runs: int, quality: str, which: str = "presets") -> None:
    """Replace the table between the speed markers in docs/benchmarks.md."""
    begin, end = "<!-- detect-speed-begin -->", "<!-- detect-speed-end -->"
    doc = DOCS.read_text(encoding="utf-8")
    if begin not in doc:
        raise SystemExit(f"{DOCS} has no {begin} marker")
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.machine(),
    ) if Path("/proc/cpuinfo").exists() else platform.machine()
    text = (
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {cpu} ({os.cpu_count()} cores, shared), pinned to one core; "
        f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.1f} at the end (other work "
        "shared the machine); "
        f"median and best of {runs} runs after a warm-up. Command: `.venv/bin/python bench/bench_detect.py "
        f"--settings {which} --write-docs`.\n\n"
        "| workload | median | best | CPU (median) | throughput | per device | events | target |\n"
        "|---|---:|---:|---:|---:|---:|---:|---|\n"
        f"{summary}\n\nOn the same synthetic data: {quality}."
    )
    head, rest = doc.split(begin, 1)
    DOCS.write_text(f"{head}{begin}\n{text}\n{end}{rest.split(end, 1)[1]}", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
