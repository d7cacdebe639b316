"""Benchmark the simulator: (a) backfill of the default town into a real InfluxDB, (b) live publish rate.

    .venv/bin/python bench/bench_simulator.py                     # both, one year of backfill
    .venv/bin/python bench/bench_simulator.py --days 30 --skip-live
    .venv/bin/python bench/bench_simulator.py --skip-backfill --speed 250000 --live-seconds 30
    .venv/bin/python bench/bench_simulator.py --generate-days 14 --skip-backfill --skip-live

``--generate-days`` first times the simulation alone in this process (firmware, radio, envelopes; no servers,
no ingest): CPU seconds for that many days of the default town, best of three.

Servers are local child processes on free ports (``devtools.localstack``), never the system broker.
Prints one line per measurement, ready for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.localstack import InfluxServer, MosquittoServer
from firmware_sim.backfill import ProgressBar, run_backfill
from firmware_sim.engine import Simulation
from firmware_sim.live import run_live
from firmware_sim.town import load_town
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings


def _machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def _count(url: str, db: str, query: str) -> int:
    response = httpx.get(f"{url}/query", params={"db": db, "q": query}, timeout=300)
    series = response.json()["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def bench_backfill(run_dir: Path, *, days: int, workers: int | None) -> None:
    with InfluxServer(run_dir / "influxdb") as influx:
        settings = Settings(influx=InfluxSettings(url=influx.url, db="bench"), data_dir=run_dir)
        bar = ProgressBar("backfill")
        began = time.monotonic()
        result = run_backfill(settings, days=days, start=date(2025, 1, 1), workers=workers, on_progress=bar)
        bar.close()
        wall = time.monotonic() - began
        stored = _count(influx.url, "bench", 'SELECT count("f_cnt") FROM "uplink"')
        print(f"backfill: {days} days of the default town, {result.uplinks:,} uplinks ({stored:,} uplink points "
              f"stored), {result.lines:,} lines, wall {wall:.0f} s ({result.uplinks / wall:,.0f} uplinks/s, "
              f"{result.lines / wall:,.0f} lines/s), workers {workers or os.cpu_count()}; {_machine()}")


def bench_generate(days: int) -> None:
    town = load_town("default")
    start = date(2025, 1, 1)
    run_start = datetime.combine(start, datetime.min.time(), tzinfo=town.timezone).timestamp()
    best, deliveries = float("inf"), 0
    for _ in range(3):
        simulation = Simulation(town, seed=1, fmt="mixed", run_start=run_start)
        began = time.process_time()
        deliveries = sum(len(simulation.day(start + timedelta(days=n))) for n in range(days))
        best = min(best, time.process_time() - began)
    print(f"generate: {days} days of the default town in one process, {deliveries:,} envelopes, "
          f"CPU {best:.2f} s ({deliveries / best:,.0f} envelopes/s), best of 3; {_machine()}")


def bench_live(run_dir: Path, *, speed: float, seconds: float, qos: int) -> None:
    with MosquittoServer(run_dir / "mosquitto") as broker:
        settings = Settings(mqtt=MqttSettings(url=broker.url), data_dir=run_dir)
        result = asyncio.run(run_live(settings, speed=speed, duration=seconds, register=False, qos=qos,
                                      start=None))
        print(f"live: speed x{speed:g} for {result.wall_seconds:.1f} s, QoS {qos}: {result.published:,} uplinks, "
              f"{result.rate:,.0f} uplinks/s; lag behind schedule p99 {result.lag_p99 * 1000:.0f} ms, "
              f"worst {result.max_lag * 1000:.0f} ms; {_machine()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--speed", type=float, default=280_000.0, help="live mode speed factor")
    parser.add_argument("--live-seconds", type=float, default=30.0)
    parser.add_argument("--qos", type=int, default=0, choices=(0, 1))
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--generate-days", type=int, default=0, help="time the simulation alone for this many days")
    args = parser.parse_args()
    print(f"# {date.today().isoformat()}")
    if args.generate_days:
        bench_generate(args.generate_days)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        run_dir = Path(tmp)
        if not args.skip_backfill:
            bench_backfill(run_dir, days=args.days, workers=args.workers)
        if not args.skip_live:
            bench_live(run_dir, speed=args.speed, seconds=args.live_seconds, qos=args.qos)


if __name__ == "__main__":
    main()
