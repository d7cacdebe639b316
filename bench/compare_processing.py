"""Processing of this checkout against another copy of the code, side by side on the same data.

Both run with this checkout's virtual environment, the other copy first on ``PYTHONPATH`` (e.g. made with
``git archive <commit> | tar -x -C /tmp/before``), alternately in fresh processes against one local InfluxDB:

    .venv/bin/python bench/compare_processing.py --other /tmp/before town-day --rounds 3
    .venv/bin/python bench/compare_processing.py --other /tmp/before default-town --days 14 --rounds 3
    .venv/bin/python bench/compare_processing.py --other /tmp/before lines     # the town day's lines, compared
    .venv/bin/python bench/compare_processing.py --other /tmp/before lines --dropped ""   # nothing dropped

``town-day`` and ``default-town`` print per run the wall-clock time, the processing process's CPU and InfluxDB's
CPU (from ``/proc``), and the load average; ``lines`` computes (without writing) every line a backfill of the town
day would write with each copy and compares the sorted lists (timestamps in ns whatever precision a copy writes
with), leaving out of the other copy's lines the measurements given with ``--dropped``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_processing import _write_town_day
from devtools.localstack import InfluxServer
from stadtpuls.settings import InfluxSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
NS = 1_000_000_000
DAY = 86400 * NS
TOWN_DAY = int(datetime(2026, 11, 2, tzinfo=UTC).timestamp()) * NS
TOWN_FIRST = date(2025, 1, 6)

# run in a child process with the copy under test first on the path: one backfill, one JSON line
BACKFILL = """
import asyncio, json, os, sys, time
from pathlib import Path
from processing.airquality import load_bands
from processing.engine import Options
from processing.service import ProcessingService
from stadtpuls.settings import InfluxSettings, Settings
url, db, data_dir, start, end = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
settings = Settings(influx=InfluxSettings(url=url, db=db), data_dir=Path(data_dir))
service = ProcessingService(settings, Options(load_bands()))
before, began = os.times(), time.perf_counter()
report = asyncio.run(service.backfill(start, end))
after = os.times()
print(json.dumps({"wall": time.perf_counter() - began, "points": report.points,
                  "cpu": after.user - before.user + after.system - before.system}))
"""

LINES = """
import asyncio, sys
from pathlib import Path
from processing.airquality import load_bands
from processing.engine import Options
from processing.service import PassReport, ProcessingService, Shard, load_sites
from processing.store import NS, ProcessingStore
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, Settings
url, db, data_dir, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[6]
start, end = int(sys.argv[4]), int(sys.argv[5])
settings = Settings(influx=InfluxSettings(url=url, db=db), data_dir=Path(data_dir))
options = Options(load_bands(), live=False)
service = ProcessingService(settings, options)
async def main():
    lines = []
    async with InfluxClient.from_settings(settings.influx, timeout=300) as client:
        store = ProcessingStore(client)
        for site in load_sites(settings, Shard()):
            if hasattr(service, "_read"):  # reads and computations as separate stages
                from processing.service import Window
                window = Window(site, start, end, end)
                raw = await service._read(store, window, PassReport())
                points = await service._compute(window, raw, options, PassReport())
            else:
                points = await service._compute(store, site, start=start, end=end, horizon=end, options=options,
                                                report=PassReport())
            # timestamps in ns whatever the precision the copy writes with, so that lines compare by value
            unit = {"s": NS}.get(getattr(points, "precision", "ns"), 1)
            for policy, found in points.by_policy.items():
                for text in found:
                    head, stamp = text.rsplit(" ", 1)
                    lines.append(f"{policy}\\t{head} {int(stamp) * unit}")
    Path(out).write_text("\\n".join(sorted(lines)) + "\\n")
asyncio.run(main())
"""


def _influx_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _child(code: Path, script: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(code)}
    done = subprocess.run([sys.executable, "-c", script, *args], check=True, capture_output=True, text=True,
                          env=env, cwd=tempfile.gettempdir())
    return done.stdout


def _rounds(influx: InfluxServer, copies: dict[str, Path], rounds: int, args: list[str]) -> None:
    pid = influx.pid
    assert pid is not None
    results: dict[str, list[dict[str, float]]] = {name: [] for name in copies}
    for number in range(rounds):
        order = list(copies) if number % 2 == 0 else list(reversed(copies))
        for name in order:
            before = _influx_cpu(pid)
            run = json.loads(_child(copies[name], BACKFILL, *args))
            run["influxdb_cpu"] = _influx_cpu(pid) - before
            run["load"] = os.getloadavg()[0]
            results[name].append(run)
            print(f"round {number + 1} {name}: {run['wall']:.1f} s wall, CPU {run['cpu']:.2f} s + InfluxDB "
                  f"{run['influxdb_cpu']:.2f} s, {run['points']:,} points, load {run['load']:.1f}", flush=True)
    for name, runs in results.items():
        print(f"{name}: median {statistics.median(r['wall'] for r in runs):.1f} s wall, CPU "
              f"{statistics.median(r['cpu'] for r in runs):.2f} s + InfluxDB "
              f"{statistics.median(r['influxdb_cpu'] for r in runs):.2f} s")


def _town_day(run_dir: Path) -> tuple[InfluxServer, Settings]:
    influx = InfluxServer(run_dir / "influx").start()
    settings = Settings(influx=InfluxSettings(url=influx.url, db="bench"), data_dir=run_dir)
    shape = {"lots": 16, "bays": 100, "counter_sites": 20, "counters": 10, "air_sites": 40, "stations": 5}
    asyncio.run(_write_town_day(settings, TOWN_DAY, **shape))
    return influx, settings


def _compare_lines(copies: dict[str, Path], settings: Settings, run_dir: Path, dropped: set[str]) -> None:
    found = {}
    for name, code in copies.items():
        out = run_dir / f"{name}.lines"
        _child(code, LINES, settings.influx.url, settings.influx.db, str(settings.data_dir), str(TOWN_DAY),
               str(TOWN_DAY + DAY), str(out))
        found[name] = out.read_text().splitlines()

    def kept(text: str) -> bool:
        measurement = text.split("\t", 1)[1].split(",", 1)[0]
        return measurement.removesuffix("_site") not in dropped

    other = [text for text in found["other"] if kept(text)]
    for name, lines in (("other", found["other"]), ("other without --dropped", other), ("this", found["this"])):
        digest = hashlib.sha256("\n".join(lines).encode()).hexdigest()
        print(f"{name}: {len(lines):,} lines, SHA-256 {digest}")
    print("identical" if other == found["this"] else "DIFFERENT")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--other", type=Path, required=True, help="another copy of the code (a folder)")
    parser.add_argument("what", choices=["town-day", "default-town", "lines"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--days", type=int, default=14, help="default-town: UTC days to process")
    parser.add_argument("--dropped", default="occupied,people_in_total,people_out_total",
                        help="lines: measurements (without _site) the other copy writes and this one does not")
    args = parser.parse_args()
    copies = {"other": args.other.resolve(), "this": ROOT}
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="compare-processing-") as folder:
        run_dir = Path(folder)
        if args.what == "default-town":
            from firmware_sim.backfill import run_backfill

            influx = InfluxServer(run_dir / "influx").start()
            settings = Settings(influx=InfluxSettings(url=influx.url, db="town"), data_dir=run_dir)
            run_backfill(settings, town="default", days=args.days + 1, start=TOWN_FIRST, seed=1)
            start = int(datetime(TOWN_FIRST.year, TOWN_FIRST.month, TOWN_FIRST.day, tzinfo=UTC).timestamp()) * NS
            window = [str(start), str(start + args.days * DAY)]
        else:
            influx, settings = _town_day(run_dir)
            window = [str(TOWN_DAY), str(TOWN_DAY + DAY)]
        try:
            if args.what == "lines":
                _compare_lines(copies, settings, run_dir, set(args.dropped.split(",")))
            else:
                _rounds(influx, copies, args.rounds,
                        [settings.influx.url, settings.influx.db, str(settings.data_dir), *window])
        finally:
            influx.stop()


if __name__ == "__main__":
    main()
