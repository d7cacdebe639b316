"""Query API benchmark: latency of the main questions and requests/s of latest values on one uvicorn worker.

Starts its own InfluxDB under ``.bench/api``, writes a year of data in the stored and processed schema (raw
readings of a town's devices for one day, and a year of rollups, occupancy, footfall, EAQI and limit
statistics as processing writes them), starts ``uvicorn api.app:create_app --factory`` with one worker in a
process of its own, and measures:

* p50/p99 latency of each question over sequential requests on one keep-alive connection;
* requests/s of latest values with wrk (a separate process) over several devices.

    .venv/bin/python bench/bench_api.py [--requests 500] [--wrk-seconds 20] [--connections 32]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.keys import KeyStore, Role  # noqa: E402
from devices.registry import DeviceRegistry  # noqa: E402
from devtools.localstack import InfluxServer, create_database, free_port  # noqa: E402
from stadtpuls.influx import run_blocking  # noqa: E402
from stadtpuls.lineprotocol import line, quote_identifier  # noqa: E402

RUN_DIR = ROOT / ".bench" / "api"
TOWN = "Lindenbrück"
DB = "stadtpuls"
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
NS = 10**9
HOUR = 3600 * NS
DAY = 24 * HOUR
DEVICES = 600  # parking bays, counters and stations of a town
STATIONS = 6
LOTS = ("Marktplatz", "Rathaus", "Bahnhof", "Stadthalle")
ZONES = ("Fussgaengerzone", "Marktstrasse", "Lindenplatz", "Brueckenstrasse")


def eui(k: int) -> str:
    return f"70B3D5E75E{k:06X}"


def write(url: str, policy: str, lines: list[str]) -> None:
    async def send(client: object) -> None:
        for i in range(0, len(lines), 50_000):
            params = {"db": DB, "precision": "ns", **({"rp": policy} if policy else {})}
            await client._request("POST", "/write", params=params,  # type: ignore[attr-defined]
                                  content="\n".join(lines[i:i + 50_000]).encode())

    run_blocking(send, url, DB, timeout=120)


def fill(url: str, registry: DeviceRegistry) -> int:
    """Write the data set; returns the number of points."""
    async def policies(client: object) -> None:
        for policy, duration in (("r1m", "90d"), ("r15m", "730d"), ("r1h", "INF"), ("r1d", "INF")):
            statement = (f"CREATE RETENTION POLICY {quote_identifier(policy)} ON {quote_identifier(DB)} "
                         f"DURATION {duration} REPLICATION 1")
            await client._request("POST", "/query", data={"q": statement})  # type: ignore[attr-defined]

    run_blocking(policies, url, DB)
    start = int(YEAR.timestamp()) * NS
    last_day = start + 364 * DAY
    total = 0
    raw: list[str] = []
    for k in range(DEVICES):
        station = k < STATIONS
        model, quantity = ("decentlab-dl-pm", "pm10") if station else ("nwave-nps405", "occupied")
        site = "Ring" if station else LOTS[k % len(LOTS)]
        registry.upsert(eui(k), model=model, name=f"d{k}", site=site, municipality=TOWN, lat=50.0, lon=8.0)
        tags = {"municipality": TOWN, "site": site, "class": "x", "model": model, "dev_eui": eui(k)}
        raw += [line(quantity, tags, {"value": float(m % 2)}, last_day + m * 600 * NS) for m in range(144)]
        raw += [line("uplink", tags, {"rssi": -90.0, "snr": 7.0, "f_cnt": float(m)}, last_day + m * 600 * NS)
                for m in range(144)]
    write(url, "", raw)
    total += len(raw)
    hours = range(0, 365 * 24)
    r15m = []
    for k in range(STATIONS):
        tags = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
                "dev_eui": eui(k)}
        r15m += [line("pm10", tags, {"count": 2.0, "mean": 20.0, "min": 10.0, "max": 30.0, "last": 21.0,
                                     "coverage": 1.0}, start + q * 900 * NS) for q in range(365 * 96)]
    write(url, "r15m", r15m)
    total += len(r15m)
    r1h = []
    for lot in LOTS:
        tags = {"municipality": TOWN, "site": lot, "class": "parking"}
        r1h += [line("lot_occupancy", tags, {"occupancy": (h % 24) / 24, "coverage": 1.0, "bays": 150.0},
                     start + h * HOUR) for h in hours]
    for zone in ZONES:
        for direction in ("in", "out"):
            tags = {"municipality": TOWN, "site": zone, "class": "footfall", "direction": direction}
            r1h += [line("footfall_site", tags, {"count": float(h % 24 * 10), "complete": 1.0, "counters": 2.0},
                         start + h * HOUR) for h in hours]
    for k in range(STATIONS):
        tags = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
                "dev_eui": eui(k), "bands": "2024", "pm_mean": "1h"}
        r1h += [line("eaqi", tags, {"index": float(1 + h % 3), "pm10": 20.0, "no2": 30.0}, start + h * HOUR)
                for h in hours]
    write(url, "r1h", r1h)
    total += len(r1h)
    r1d = []
    for k in range(STATIONS):
        tags = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
                "dev_eui": eui(k)}
        r1d += [line("air_limits", tags, {"pm10_mean": 30.0, "pm10_over_limit": float(d % 40 == 0),
                                          "no2_valid_hours": 24.0, "no2_hours_over_limit": 0.0},
                     start + d * DAY) for d in range(365)]
    write(url, "r1d", r1d)
    total += len(r1d)
    now = [line("lot_availability", {"municipality": TOWN, "site": lot, "class": "parking"},
                {"free": 50.0, "occupied": 95.0, "unknown": 5.0, "capacity": 150.0}, last_day) for lot in LOTS]
    write(url, "", now)
    return total + len(now)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latencies(base: str, key: str, path: str, count: int) -> tuple[float, float]:
    with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=30) as client:
        for _ in range(20):
            client.get(path).raise_for_status()
        times = []
        for _ in range(count):
            began = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), percentile(times, 0.99)


def wrk(base: str, key: str, seconds: int, connections: int) -> str:
    script = Path(tempfile.mkdtemp()) / "latest.lua"
    paths = ", ".join(f'"/v1/devices/{eui(k)}/latest"' for k in range(0, DEVICES, 7))
    script.write_text(
        f"local paths = {{{paths}}}\nlocal i = 0\n"
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n"
    )
    done = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
                          capture_output=True, text=True, check=True)
    return done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--wrk-seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    RUN_DIR.mkdir(parents=True)
    with InfluxServer(RUN_DIR / "influx") as influx:
        create_database(influx.url, DB)
        registry_url = f"sqlite:///{RUN_DIR / 'stadtpuls.sqlite3'}"
        began = time.perf_counter()
        points = fill(influx.url, DeviceRegistry(registry_url))
        print(f"wrote {points:,} points in {time.perf_counter() - began:.0f} s", flush=True)
        key = KeyStore(registry_url).create(Role.READER, municipality=TOWN, name="bench")[1]
        port = free_port()
        env = {**os.environ, "STADTPULS_INFLUX_URL": influx.url, "STADTPULS_INFLUX_DB": DB,
               "STADTPULS_DATABASE_URL": registry_url, "STADTPULS_API_RATE_LIMIT": "1000000",
               "STADTPULS_API_RATE_BURST": "1000000", "STADTPULS_API_ROLLUPS": "true"}
        server = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port", str(port),
             "--workers", "1", "--log-level", "warning", "--no-access-log"], cwd=ROOT, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                if server.poll() is not None:
                    raise SystemExit("the API did not start")
                try:
                    if httpx.get(f"{base}/openapi.json").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            day = "start=2025-12-30T00:00:00%2B01:00&end=2025-12-31T00:00:00%2B01:00"
            week = "start=2025-12-22T00:00:00%2B01:00&end=2025-12-29T00:00:00%2B01:00"
            cases = {
                "latest values of one device": f"/v1/devices/{eui(100)}/latest",
                "one day of 15-min rollups, one device": f"/v1/timeseries?dev_eui={eui(0)}&quantity=pm10&{day}"
                                                         "&every=15m&agg=mean",
                "one week of footfall per site (hourly, with comparisons)": f"/v1/footfall/Fussgaengerzone?{week}"
                                                                            "&every=1h&compare=true",
                "parking availability now": "/v1/parking",
                "a year of daily EAQI, one station": f"/v1/air/stations/{eui(0)}/eaqi?every=1d"
                                                     "&start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00Z",
                "PM10 exceedance days in a year": "/v1/air/exceedances?year=2025&site=Ring",
            }
            print("| request | p50 ms | p99 ms |\n|---|---:|---:|")
            for name, path in cases.items():
                p50, p99 = latencies(base, key, path, args.requests)
                print(f"| {name} | {p50:.1f} | {p99:.1f} |", flush=True)
            print(wrk(base, key, args.wrk_seconds, args.connections))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
