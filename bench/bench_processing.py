"""Benchmark the processing stage: (a) each kernel against idiomatic pandas and against memory bandwidth
(a plain numpy sum) on the same data in one run; (b) one day of a 2,000-device town end to end (read from
InfluxDB, compute, write back); (c) the cold start of ``stadtpuls process`` with a warm numba cache.

    .venv/bin/python bench/bench_processing.py                   # everything
    .venv/bin/python bench/bench_processing.py --values 2000000 --skip-town

InfluxDB is a local child process on a free port (``devtools.localstack``). Prints lines ready for
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from numba import njit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.registry import DeviceRegistry
from devtools.localstack import InfluxServer
from processing.airquality import load_bands
from processing.engine import Options
from processing.kernels.rolling import rolling_mean
from processing.kernels.rollup import bin_stats
from processing.kernels.spread import spread_counts
from processing.kernels.timeweight import hold_integrate
from processing.service import PassReport, ProcessingService
from processing.store import DAY
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line
from stadtpuls.settings import InfluxSettings, Settings

NS = 1_000_000_000
ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                cpu = text.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.machine()}, Python {platform.python_version()}"


def best(fn: Callable[[], object], repeat: int, between: Callable[[], object] | None = None) -> float:
    """The fastest of ``repeat`` runs, in seconds; ``between`` runs untimed before each one."""
    times = []
    for _ in range(repeat):
        if between is not None:
            between()
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return min(times)


@njit("float64(float64[::1])", nogil=True)
def sequential_sum(values: np.ndarray) -> float:
    """The sum of the non-missing values, one addition after another (no reordering, so no SIMD)."""
    total = 0.0
    for i in range(values.shape[0]):
        value = values[i]
        if not math.isnan(value):
            total += value
    return total


class KernelData:
    """Inputs and outputs of the four streaming kernels on ``n`` readings, about one a second, 2 % NaN."""

    def __init__(self, n: int, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.n = n
        self.t = np.cumsum(rng.integers(1, 2 * NS, n)).astype(np.int64)
        self.v = rng.normal(20, 5, n)
        self.v[rng.random(n) < 0.02] = np.nan
        self.states = (rng.random(n) < 0.5).astype(np.float64)
        self.deltas = rng.integers(0, 5, n).astype(np.float64)
        self.hourly = rng.normal(20, 5, n)
        self.hourly[rng.random(n) < 0.05] = np.nan
        self.step = 60 * NS
        self.m = m = int((self.t[-1] - self.t[0]) // self.step) + 1
        self.start = int(self.t[0] - self.t[0] % self.step)
        self.count, self.stats = np.empty(m, dtype=np.int64), [np.empty(m) for _ in range(4)]
        self.known, self.weighted = np.empty(m, dtype=np.int64), np.empty(m)
        self.covered, self.gap = np.empty(m, dtype=np.int64), np.empty(m, dtype=np.uint8)
        self.spread = np.empty(m)
        self.rolled = np.empty(n)

    def runs(self) -> list[tuple[str, int, Callable[[], object]]]:
        """(name, bytes the kernel reads and writes, run) per kernel."""
        t, start, step = self.t, self.start, self.step
        stats_out = self.count.nbytes + sum(a.nbytes for a in self.stats)
        return [
            ("interval statistics (1 min: count, sum, min, max, last)", t.nbytes + self.v.nbytes + stats_out,
             lambda: bin_stats(t, self.v, start, step, self.count, *self.stats)),
            ("running mean (24 values, min 18)", self.hourly.nbytes + self.rolled.nbytes,
             lambda: rolling_mean(self.hourly, 24, 18, self.rolled)),
            ("time-weighted state (1 min)", t.nbytes + self.states.nbytes + self.known.nbytes + self.weighted.nbytes,
             lambda: hold_integrate(t, self.states, 0, int(t[-1]), start, step, self.known, self.weighted)),
            ("spread counts (1 min)",
             t.nbytes + self.deltas.nbytes + self.spread.nbytes + self.covered.nbytes + self.gap.nbytes,
             lambda: spread_counts(t, self.deltas, 0, start, step, self.spread, self.covered, self.gap)),
        ]


def pandas_runs(data: KernelData) -> list[Callable[[], object] | None]:
    """The idiomatic pandas code for each kernel of :meth:`KernelData.runs` (None: no pandas equivalent)."""
    series = pd.Series(data.v, index=pd.to_datetime(data.t))
    hourly_series = pd.Series(data.hourly)
    frame = pd.DataFrame({"t": data.t, "s": data.states})
    start, step, m = data.start, data.step, data.m

    def pandas_rollup() -> object:
        return series.resample("1min").agg(["count", "sum", "min", "max", "last"])

    def pandas_rolling() -> object:
        return hourly_series.rolling(24, min_periods=18).mean()

    def pandas_timeweight() -> object:
        # each state holds until the next reading; split at minute edges by adding the edges as points
        edges = pd.DataFrame({"t": start + step * np.arange(m + 1, dtype=np.int64), "s": np.nan})
        merged = pd.concat([frame, edges]).sort_values("t", kind="stable")
        merged["s"] = merged["s"].ffill()
        merged["dt"] = merged["t"].shift(-1) - merged["t"]
        merged["w"] = merged["s"] * merged["dt"]
        return merged.groupby((merged["t"] - start) // step)[["dt", "w"]].sum()

    return [pandas_rollup, pandas_rolling, pandas_timeweight, None]


def kernels(n: int, repeat: int) -> None:
    """In cache: the kernels on ``n`` values against pandas, numpy's sum of the same values as the reference."""
    data = KernelData(n)
    for _name, _nbytes, run in data.runs():
        run()  # warm up (compiles or loads the cache)
    v = data.v
    sum_s = best(lambda: np.sum(v), repeat)
    sum_gbs = v.nbytes / sum_s / 1e9
    print(f"numpy sum of the same {v.nbytes / 1e6:.0f} MB, repeated (mostly the caches' bandwidth): "
          f"{n / sum_s / 1e6:,.0f} M values/s, {sum_gbs:.1f} GB/s")
    sequential_sum(v)  # compiles
    seq_s = best(lambda: sequential_sum(v), repeat)
    seq_gbs = v.nbytes / seq_s / 1e9
    print(f"sequential sum (a numba loop adding one value after another): "
          f"{n / seq_s / 1e6:,.0f} M values/s, {seq_gbs:.1f} GB/s")
    print(f"\n{n:,} values, best of {repeat}\n")
    print("| kernel | numba values/s | pandas values/s | numba / pandas | GB/s moved | share of numpy-sum GB/s "
          "| share of sequential-sum GB/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for (name, nbytes, kernel), pandas_fn in zip(data.runs(), pandas_runs(data), strict=True):
        k = best(kernel, repeat)
        p = best(pandas_fn, max(1, repeat // 2)) if pandas_fn else None
        ratio = f"{p / k:.1f}×" if p else "—"
        pandas_rate = f"{n / p / 1e6:,.1f} M" if p else "—"
        gbs = nbytes / k / 1e9
        print(f"| {name} | {n / k / 1e6:,.1f} M | {pandas_rate} | {ratio} | {gbs:.2f} | {gbs / sum_gbs:.0%} "
              f"| {gbs / seq_gbs:.0%} |")


def memory_bandwidth(nbytes: int, repeat: int) -> float:
    """GB/s of ``np.sum`` over a float64 array of ``nbytes``, far beyond the last-level cache, with another
    array of the same size read between repeats so that none of it is left in a cache.
    """
    values = np.random.default_rng(3).random(nbytes // 8)
    flush = np.ones(nbytes // 8)
    took = best(lambda: np.sum(values), repeat, between=lambda: np.sum(flush))
    return values.nbytes / took / 1e9


def kernels_out_of_cache(megabytes: int, repeat: int) -> None:
    """Out of cache: memory bandwidth (numpy's sum over ``megabytes``) and the kernels on readings of the same
    size (``megabytes`` of timestamps and values), each rate against its bandwidth-bound rate.
    """
    nbytes = megabytes * 1_000_000
    bandwidth = memory_bandwidth(nbytes, repeat)
    print(f"\nmemory bandwidth: numpy sum over {megabytes:,} MB, another {megabytes:,} MB read between repeats, "
          f"best of {repeat}: {bandwidth:.1f} GB/s")
    data = KernelData(nbytes // 16, seed=4)
    flush = np.ones(nbytes // 8)
    print(f"\n{data.n:,} readings ({data.t.nbytes + data.v.nbytes:,} bytes of timestamps and values), best of "
          f"{repeat}, {megabytes:,} MB read between repeats; bandwidth-bound rate = memory bandwidth / bytes "
          f"moved per value (inputs read + outputs written)\n")
    print("| kernel | bytes per value | bandwidth-bound values/s | numba values/s | share of bandwidth-bound |")
    print("|---|---:|---:|---:|---:|")
    for name, moved, kernel in data.runs():
        kernel()
        took = best(kernel, repeat, between=lambda: np.sum(flush))
        per_value = moved / data.n
        bound = bandwidth * 1e9 / per_value
        rate = data.n / took
        print(f"| {name} | {per_value:.1f} | {bound / 1e6:,.0f} M | {rate / 1e6:,.0f} M | {rate / bound:.0%} |")


async def _write_town_day(settings: Settings, day: int, lots: int, bays: int, counter_sites: int,
                          counters: int, air_sites: int, stations: int) -> int:
    rng = np.random.default_rng(2)
    registry = DeviceRegistry(settings.registry_url)
    lines: list[str] = []
    number = 0

    def device(model: str, site: str, cls: str) -> dict[str, str]:
        nonlocal number
        number += 1
        eui = f"BE{number:014X}"
        registry.upsert(eui, model=model, name=f"d{number}", site=site, municipality="Benchstadt")
        return {"municipality": "Benchstadt", "site": site, "class": cls, "model": model, "dev_eui": eui}

    for lot in range(lots):
        for _ in range(bays):
            tags = device("nwave-nps405", f"lot-{lot}", "parking")
            changes = np.sort(rng.integers(day, day + DAY, 25))
            for k, ts in enumerate(changes):
                lines.append(line("occupied", tags, {"value": float(k % 2)}, int(ts)))
            lines.append(line("occupied", tags, {"value": 0.0}, day + 3 * 3600 * NS))  # heartbeat
    for site in range(counter_sites):
        for _ in range(counters):
            tags = {**device("milesight-vs133", f"street-{site}", "footfall"), "channel": "1"}
            totals = np.cumsum(rng.poisson(40, 145))
            for k in range(145):
                ts = day + k * 600 * NS
                lines.append(line("people_in_total", tags, {"value": float(totals[k])}, ts))
                lines.append(line("people_out_total", tags, {"value": float(totals[k] // 2)}, ts))
                lines.append(line("people_in", tags, {"value": 40.0}, ts))
                lines.append(line("people_out", tags, {"value": 20.0}, ts))
    quantities = ("pm1_0", "pm2_5", "pm4", "pm10", "temperature", "humidity", "pressure", "battery_voltage")
    for site in range(air_sites):
        for _ in range(stations):
            tags = device("decentlab-dl-pm", f"air-{site}", "air_quality")
            for k in range(144):
                ts = day + k * 600 * NS
                lines.append(line(quantities[0], tags, {"value": 5.0}, ts))
                for q in quantities[1:]:
                    lines.append(line(q, tags, {"value": float(rng.normal(20, 3))}, ts))
    async with InfluxClient.from_settings(settings.influx, timeout=300) as client:
        await client.create_database()
        for offset in range(0, len(lines), 20_000):
            await client.write("\n".join(lines[offset : offset + 20_000]))
    return len(lines)


def town(run_dir: Path) -> None:
    day = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()) * NS
    with InfluxServer(run_dir) as influx:
        settings = Settings(influx=InfluxSettings(url=influx.url, db="bench"), data_dir=run_dir)
        shape = {"lots": 16, "bays": 100, "counter_sites": 20, "counters": 10, "air_sites": 40, "stations": 5}
        began = time.perf_counter()
        points = asyncio.run(_write_town_day(settings, day, **shape))
        print(f"\ntown: 2,000 devices (1,600 bays, 200 counters, 200 PM stations), {points:,} raw points "
              f"written in {time.perf_counter() - began:.1f} s")
        service = ProcessingService(settings, Options(load_bands()))
        for attempt in (1, 2):
            began = time.perf_counter()
            report = asyncio.run(service.backfill(day, day + DAY))
            print(f"one day end to end (read, compute, write), run {attempt}: {time.perf_counter() - began:.1f} s, "
                  f"{report.sites} sites, {report.points:,} points written; "
                  + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))


def default_town(run_dir: Path, days: int) -> None:
    """The simulated default town: ``days`` days through ingest, then processed; a year extrapolated.

    The simulated days are kept in ``run_dir / "town"``: when that folder already holds them (``--town-dir``
    given again with the same ``--town-days``), the simulation is skipped and only the processing is timed.
    """
    from firmware_sim.backfill import run_backfill

    first = date(2025, 1, 6)
    marker = run_dir / "town" / f"simulated-{days + 1}-days"
    with InfluxServer(run_dir / "town") as influx:
        settings = Settings(influx=InfluxSettings(url=influx.url, db="town"), data_dir=run_dir / "town")
        if marker.exists():
            print(f"\ndefault town: {days + 1} simulated days kept in {run_dir / 'town'}")
        else:
            began = time.perf_counter()
            result = run_backfill(settings, town="default", days=days + 1, start=first, seed=1)
            marker.touch()
            print(f"\ndefault town: {days + 1} simulated days, {result.uplinks:,} uplinks ingested in "
                  f"{time.perf_counter() - began:.1f} s")
        start = int(datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()) * NS
        service = ProcessingService(settings, Options(load_bands()))
        began = time.perf_counter()
        report = asyncio.run(service.backfill(start, start + days * DAY))
        took = time.perf_counter() - began
        print(f"default town processed: {days} UTC days, {report.sites} sites, {report.points:,} points "
              f"in {took:.1f} s "
              f"({took / days:.1f} s a day, a year ≈ {took / days * 365 / 60:.0f} min); "
              + ", ".join(f"{k} {v:.1f} s" for k, v in report.seconds.items()))


def _median_run(command: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall-clock and CPU seconds (user+system of the process) of 5 runs of ``command``."""
    runs = sorted(_cpu_seconds(command, env or dict(os.environ)) for _ in range(5))
    return runs[2][0], sorted(cpu for _, cpu in runs)[2]


def _cpu_seconds(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and user+system CPU seconds of one run of ``command``."""
    began = time.perf_counter()
    before = os.times()
    subprocess.run(command, check=True, capture_output=True, env=env)
    after = os.times()
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return time.perf_counter() - began, cpu


def _compile_bytecode() -> None:
    """Write the project's bytecode, as an installation does (an editable install run with
    ``PYTHONDONTWRITEBYTECODE`` would otherwise compile every module of the project at every start).
    """
    packages = [str(ROOT / name) for name in ("stadtpuls", "processing", "devices", "firmware_sim")]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=True, capture_output=True)


def cold_start(run_dir: Path, town_day: bool) -> None:
    """Whole processes with a warm numba cache: a CSV command, and the service from its start to the end of its
    first pass (``process --once``; without anomaly detection and fleet summary, which the service runs after
    its first pass) over the default town registered in a local InfluxDB: without raw data (start-up and a pass
    that finds nothing to compute), and with ``town_day`` also with one simulated day, processed once before, so
    that the measured pass brings an up-to-date town up to date (it recomputes the UTC day so far).
    """
    _compile_bytecode()
    csv = run_dir / "bay.csv"
    csv.write_text("timestamp,value\n2025-03-08T10:00:00Z,0\n2025-03-08T10:10:00Z,1\n2025-03-08T11:00:00Z,0\n")
    cli = str(ROOT / ".venv/bin/stadtpuls")
    command = [cli, "process", "occupancy", str(csv)]
    subprocess.run(command, check=True, capture_output=True)  # warms the numba cache
    wall, cpu = _median_run(command)
    baseline, baseline_cpu = _median_run([cli, "--version"])
    print(f"\ncold start with a warm numba cache, whole processes, medians of 5 (wall, CPU = user+system):\n"
          f"  `stadtpuls process occupancy` (3-row CSV): {wall:.2f} s, {cpu:.2f} s CPU; "
          f"`stadtpuls --version`: {baseline:.2f} s, {baseline_cpu:.2f} s CPU")
    from firmware_sim.town import load_town, register_town

    with InfluxServer(run_dir / "cold") as influx:
        env = {**os.environ, "STADTPULS_INFLUX_URL": influx.url, "STADTPULS_DATA_DIR": str(run_dir / "cold"),
               "STADTPULS_INFLUX_DB": "cold"}
        register_town(load_town("default"), f"sqlite:///{run_dir / 'cold' / 'stadtpuls.sqlite3'}")
        once = [cli, "process", "--once"]
        first_pass = [*once, "--anomalies-every", "0", "--fleet-every", "0"]
        subprocess.run(once, check=True, capture_output=True, env=env)  # migrates the registry, makes policies
        wall, cpu = _median_run(first_pass, env)
        print(f"  `stadtpuls process --once --anomalies-every 0 --fleet-every 0`, default town registered, no data "
              f"(start-up and a pass over 10 sites): {wall:.2f} s, {cpu:.2f} s CPU")
        wall, cpu = _median_run(once, env)
        print(f"  `stadtpuls process --once` (with the anomaly detection and the fleet summary), no data: "
              f"{wall:.2f} s, {cpu:.2f} s CPU")
        if town_day:
            from firmware_sim.backfill import run_backfill

            settings = Settings(influx=InfluxSettings(url=influx.url, db="day"), data_dir=run_dir / "day")
            yesterday = datetime.now(UTC).date().toordinal() - 1
            run_backfill(settings, town="default", days=1, start=date.fromordinal(yesterday), seed=1)
            env_day = {**env, "STADTPULS_DATA_DIR": str(run_dir / "day"), "STADTPULS_INFLUX_DB": "day"}
            subprocess.run(first_pass, check=True, capture_output=True, env=env_day)  # up to date
            wall, cpu = _median_run(first_pass, env_day)
            print(f"  the same first pass over the default town up to date (the simulated day before, processed "
                  f"once before): {wall:.2f} s, {cpu:.2f} s CPU")
    print(f"  load average {os.getloadavg()[0]:.1f}")


async def _newest(client: InfluxClient, query: str) -> int | None:
    series = await client.query(query, epoch="ns")
    return int(series[0]["values"][0][0]) if series and series[0].get("values") else None


def live(run_dir: Path, seconds: float, speed: float = 60.0, interval: float = 30.0) -> None:
    """Ingest and the simulator as their own processes, the simulator at ``speed`` replaying the recent past so
    that it reaches the wall clock when the run ends; processing passes every ``interval`` s in this process.

    After each pass: does the newest 15-minute lot occupancy cover the newest raw parking reading that
    was there when the pass began, and how long after the previous pass began did this one end (the longest
    any reading waits for its outputs)?
    """
    from devtools.localstack import MosquittoServer
    from firmware_sim.town import load_town, register_town

    with MosquittoServer(run_dir / "live-mqtt") as broker, InfluxServer(run_dir / "live-influx") as influx:
        settings = Settings(influx=InfluxSettings(url=influx.url, db="live"), data_dir=run_dir / "live")
        env = {**os.environ, "STADTPULS_INFLUX_URL": influx.url, "STADTPULS_INFLUX_DB": "live",
               "STADTPULS_MQTT_URL": broker.url, "STADTPULS_DATA_DIR": str(run_dir / "live")}
        register_town(load_town("default"), settings.registry_url)
        asyncio.run(_create_database(settings))
        zone = load_town("default").timezone
        start = datetime.fromtimestamp(time.time() - seconds * (speed - 1), zone).strftime("%Y-%m-%dT%H:%M:%S")
        cli = str(ROOT / ".venv/bin/stadtpuls")
        ingest = subprocess.Popen([cli, "ingest"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(3)
        sim = subprocess.Popen([cli, "simulate", "--speed", str(speed), "--duration", str(seconds), "--no-register",
                                "--start", start], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        service = ProcessingService(settings, Options(load_bands()))
        began = time.monotonic()
        previous_start: float | None = None
        rows = []
        try:
            while time.monotonic() - began < seconds:
                pass_start = time.monotonic()
                raw, report, rollup = asyncio.run(_live_pass(settings, service))
                pass_end = time.monotonic()
                waited = pass_end - (previous_start if previous_start is not None else pass_start)
                covered = raw is None or (rollup is not None and rollup >= raw - raw % (15 * 60 * NS))
                rows.append((pass_end - pass_start, waited, covered, report.points))
                print(f"  pass at {pass_start - began:5.0f} s: {pass_end - pass_start:5.1f} s, "
                      f"{report.points:,} points, "
                      f"newest reading covered: {covered}, longest wait {waited:.1f} s, "
                      f"load {os.getloadavg()[0]:.1f}")
                previous_start = pass_start
                time.sleep(max(0.0, interval - (time.monotonic() - pass_start)))
        finally:
            sim.terminate()
            ingest.terminate()
            sim.wait(10)
            ingest.wait(10)
        later = rows[1:] or rows
        print(f"\nlive ×{speed:g} for {seconds:.0f} s, a pass every {interval:g} s: {len(rows)} passes, "
              f"pass time median {sorted(r[0] for r in later)[len(later) // 2]:.1f} s, "
              f"max {max(r[0] for r in later):.1f} s; "
              f"longest wait of a reading for its outputs {max(r[1] for r in later):.1f} s; "
              f"newest reading covered after {sum(r[2] for r in rows)} of {len(rows)} passes")


async def _create_database(settings: Settings) -> None:
    async with InfluxClient.from_settings(settings.influx) as client:
        await client.create_database()


async def _live_pass(settings: Settings, service: ProcessingService) -> tuple[int | None, PassReport, int | None]:
    async with InfluxClient.from_settings(settings.influx) as client:
        raw = await _newest(client, 'SELECT last("value") FROM "occupied"')
    report = await service.run_pass()
    async with InfluxClient.from_settings(settings.influx) as client:
        rollup = await _newest(client, 'SELECT last("occupancy") FROM "r15m"."lot_occupancy"')
    return raw, report, rollup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out-of-cache-mb", type=int, default=512, metavar="MB",
                        help="memory bandwidth and the kernels on data of this size (0: leave out)")
    parser.add_argument("--skip-town", action="store_true")
    parser.add_argument("--town-days", type=int, default=0, help="also process N days of the default town")
    parser.add_argument("--town-dir", type=Path, default=None, metavar="DIR",
                        help="keep the simulated default town in DIR and reuse it when run again")
    parser.add_argument("--live", type=float, default=0.0, metavar="SECONDS",
                        help="also run the simulator live at ×60 for SECONDS with processing passes beside it")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--cold-town", action="store_true",
                        help="also time the service's first pass over the default town with a simulated day")
    args = parser.parse_args()
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}; numba, numpy {np.__version__}, "
          f"pandas {pd.__version__}")
    if args.values:
        kernels(args.values, args.repeat)
    if args.out_of_cache_mb:
        kernels_out_of_cache(args.out_of_cache_mb, args.repeat)
    with tempfile.TemporaryDirectory(prefix="bench-processing-") as folder:
        if not args.skip_cold:
            cold_start(Path(folder), args.cold_town)
        if not args.skip_town:
            town(Path(folder))
        if args.town_days:
            default_town(args.town_dir or Path(folder), args.town_days)
        if args.live:
            live(Path(folder), args.live)


if __name__ == "__main__":
    main()
