"""Query API benchmark: latency of the main questions, requests/s of latest values on one uvicorn worker, and a
long schemathesis run.

Keeps its own InfluxDB under ``.bench/api`` and writes a year of data in the stored and processed schema once (raw
readings of a town's devices for one day, and a year of rollups, occupancy, footfall, EAQI and limit statistics
as processing writes them) twice: with the retention policies' shard groups as processing creates them, and
with InfluxDB's default of a week (as before); later runs reuse it (``--fresh`` writes it again). For each code
tree (this one, and with ``--baseline DIR`` a checkout of the code before over the weekly shards, e.g.
``git worktree add --detach /tmp/api-before COMMIT``) it starts
``uvicorn api.app:create_app --factory`` with one worker in a process of its own, in alternating order for
``--rounds`` rounds, and measures:

* p50/p99 latency of each question over sequential requests on one keep-alive connection, and the API process's
  CPU time per request;
* requests/s of latest values with wrk (a separate process, ``apt-get install wrk``) over 86 devices in turn.

It prints the medians over the rounds side by side, with the load average before each round. ``--fuzz N`` then
runs schemathesis against ``/openapi.json`` with a key of each role (N examples per operation and role) and
fails on any 5xx or answer that does not match the schema.

``--town default`` builds the data set the way a town gets it instead, in ``.bench/api-town``: the simulated
town for a year (local days 2025-01-01 to 2025-12-31, ``--town-days``) through ``stadtpuls simulate backfill``
(the simulator's firmware, codecs and the ingest pipeline), then ``stadtpuls process backfill`` a month at a time
(the processing policies and outputs as the service writes them); each finished step is noted, so an
interrupted build goes on where it stopped and later runs reuse it. The questions are asked of the town's own
devices, sites and stations (and of its newest complete day and week); ``--partial`` measures what is processed
so far without building further (before the build's last step there is no live lot availability, so parking
availability now answers no lots), ``--with-synthetic`` measures the synthetic data set too, alternating.

    .venv/bin/python bench/bench_api.py [--requests 300] [--rounds 3] [--wrk-seconds 15] [--connections 32]
        [--baseline DIR] [--baseline-server asyncio] [--fuzz 300] [--fresh]
    .venv/bin/python bench/bench_api.py --town default [--build-only | --partial] [--with-synthetic] [--fuzz 20]

Prerequisites: ``make venv``, InfluxDB 1.x (``make deps``) and wrk (Debian's package ``wrk``).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.keys import KeyStore, Role  # noqa: E402
from devices.registry import DeviceRegistry  # noqa: E402
from devtools.localstack import InfluxServer, free_port  # noqa: E402
from processing.store import RESOLUTIONS  # noqa: E402
from stadtpuls.influx import InfluxClient, run_blocking  # noqa: E402
from stadtpuls.lineprotocol import line  # noqa: E402

RUN_DIR = ROOT / ".bench" / "api"
DATASET = "3"  # bump when fill() changes: a kept data set of another version is written again
TOWN = "Lindenbrück"
NEIGHBOUR = "Nachbarort"  # a second municipality, for the isolation checks of the fuzz run
DB = "stadtpuls"  # shard groups as processing creates them
DB_WEEKLY = "stadtpuls_weekly"  # the same data in shard groups of a week, as before (for --baseline)
YEAR = datetime(2025, 1, 1, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")
NS = 10**9
HOUR = 3600 * NS
DAY = 24 * HOUR
DEVICES = 600  # parking bays, counters and stations of a town
STATIONS = 6
LOTS = ("Marktplatz", "Rathaus", "Bahnhof", "Stadthalle")
ZONES = ("Fussgaengerzone", "Marktstrasse", "Lindenplatz", "Brueckenstrasse")


def eui(k: int) -> str:
    return f"70B3D5E75E{k:06X}"


def write(url: str, db: str, policy: str, lines: list[str]) -> None:
    async def send(client: object) -> None:
        for i in range(0, len(lines), 50_000):
            params = {"db": db, "precision": "ns", **({"rp": policy} if policy else {})}
            await client._request("POST", "/write", params=params,  # type: ignore[attr-defined]
                                  content="\n".join(lines[i:i + 50_000]).encode())

    run_blocking(send, url, db, timeout=120)


def fill(url: str, db: str, registry: DeviceRegistry, *, weekly_shards: bool) -> int:
    """Write the data set into ``db``; returns the number of points.

    The retention policies are those processing creates; with ``weekly_shards`` as they were before they got
    longer shard groups (InfluxDB's default: a week for policies kept longer than six months).
    """
    async def policies(client: InfluxClient) -> None:
        await client.create_database()
        for resolution in RESOLUTIONS:
            await client.create_retention_policy(resolution.policy, duration=resolution.duration,
                                                 shard_duration=None if weekly_shards else resolution.shards)

    run_blocking(policies, url, db)
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
    tags = {"municipality": NEIGHBOUR, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
            "dev_eui": eui(DEVICES)}
    registry.upsert(eui(DEVICES), model="decentlab-dl-pm", name="neighbour", site="Ring", municipality=NEIGHBOUR,
                    lat=50.1, lon=8.1)
    raw += [line("pm10", tags, {"value": 20.0}, last_day + m * 600 * NS) for m in range(144)]
    write(url, db, "", raw)
    total += len(raw)
    hours = range(0, 365 * 24)
    r15m = []
    for k in range(STATIONS):
        tags = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
                "dev_eui": eui(k)}
        r15m += [line("pm10", tags, {"count": 2.0, "mean": 20.0, "min": 10.0, "max": 30.0, "last": 21.0,
                                     "coverage": 1.0}, start + q * 900 * NS) for q in range(365 * 96)]
    write(url, db, "r15m", r15m)
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
    write(url, db, "r1h", r1h)
    total += len(r1h)
    r1d = []
    for k in range(STATIONS):
        tags = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm",
                "dev_eui": eui(k)}
        r1d += [line("air_limits", tags, {"pm10_mean": 30.0, "pm10_over_limit": float(d % 40 == 0),
                                          "no2_valid_hours": 24.0, "no2_hours_over_limit": 0.0},
                     start + d * DAY) for d in range(365)]
    write(url, db, "r1d", r1d)
    total += len(r1d)
    now = [line("lot_availability", {"municipality": TOWN, "site": lot, "class": "parking"},
                {"free": 50.0, "occupied": 95.0, "unknown": 5.0, "capacity": 150.0}, last_day) for lot in LOTS]
    write(url, db, "", now)
    return total + len(now)


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_average() -> str:
    """The 1, 5 and 15 minute load averages of this machine."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepare(fresh: bool) -> None:
    """Write the data set into ``RUN_DIR`` unless a complete one of this version is there."""
    marker = RUN_DIR / "dataset.json"
    if not fresh and marker.exists() and json.loads(marker.read_text()).get("version") == DATASET:
        print(f"reusing the data set in {RUN_DIR} ({json.loads(marker.read_text())['points']:,} points)", flush=True)
        return
    if RUN_DIR.exists():
        shutil.rmtree(RUN_DIR)
    RUN_DIR.mkdir(parents=True)
    with InfluxServer(RUN_DIR / "influx") as influx:
        for db, weekly in ((DB, False), (DB_WEEKLY, True)):
            began = time.perf_counter()
            points = fill(influx.url, db, DeviceRegistry(registry_url()), weekly_shards=weekly)
            print(f"wrote {points:,} points into {db} in {time.perf_counter() - began:.0f} s", flush=True)
    marker.write_text(json.dumps({"version": DATASET, "points": points}))


def registry_url(run_dir: Path = RUN_DIR) -> str:
    """The registry (devices and keys) of the data set in ``run_dir``."""
    return f"sqlite:///{run_dir / 'stadtpuls.sqlite3'}"


@dataclass(frozen=True)
class Server:
    """A running API: its base URL and process id."""

    base: str
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user and system), from ``/proc``."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def api_server(tree: Path, influx_url: str, db: str, server_args: list[str],
               registry: str | None = None) -> Iterator[Server]:
    """One uvicorn worker serving the API of the code in ``tree`` over database ``db`` (and ``registry``)."""
    port = free_port()
    env = {**os.environ, "STADTPULS_INFLUX_URL": influx_url, "STADTPULS_INFLUX_DB": db,
           "STADTPULS_DATABASE_URL": registry or registry_url(), "STADTPULS_API_RATE_LIMIT": "1000000",
           "STADTPULS_API_RATE_BURST": "1000000", "STADTPULS_API_ROLLUPS": "true",
           "PYTHONPATH": str(tree)}  # the tree's packages before the installed ones
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1", "--log-level", "warning", "--no-access-log", *server_args],
        cwd=tree, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                raise SystemExit(f"the API of {tree} did not start")
            try:
                if httpx.get(f"{base}/health", timeout=5).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield Server(base, server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)


DAY_RANGE = "start=2025-12-30T00:00:00%2B01:00&end=2025-12-31T00:00:00%2B01:00"
WEEK_RANGE = "start=2025-12-22T00:00:00%2B01:00&end=2025-12-29T00:00:00%2B01:00"
CASES = {
    "latest values of one device": f"/v1/devices/{eui(100)}/latest",
    "one day of 15-min rollups, one device": f"/v1/timeseries?dev_eui={eui(0)}&quantity=pm10&{DAY_RANGE}"
                                             "&every=15m&agg=mean",
    "one week of footfall per site (hourly, with comparisons)": f"/v1/footfall/Fussgaengerzone?{WEEK_RANGE}"
                                                                "&every=1h&compare=true",
    "parking availability now": "/v1/parking",
    "a year of daily EAQI, one station": f"/v1/air/stations/{eui(0)}/eaqi?every=1d"
                                         "&start=2025-01-01T00:00:00Z&end=2026-01-01T00:00:00Z",
    "PM10 exceedance days in a year": "/v1/air/exceedances?year=2025&site=Ring",
}


@dataclass(frozen=True)
class DataSet:
    """Where a data set lives and what is asked of it."""

    run_dir: Path
    municipality: str  # the reader key's
    neighbour: str  # another municipality, for the technician key of the fuzz run
    cases: dict[str, str]  # question -> path
    wrk_paths: list[str]  # latest values of devices, asked in turn by wrk
    label: str  # how the data set is named in the output


def synthetic() -> DataSet:
    """The data set written directly in the processed schema (``prepare``)."""
    return DataSet(RUN_DIR, TOWN, NEIGHBOUR, CASES, WRK_PATHS, f"synthetic, {RUN_DIR.relative_to(ROOT)}")


TOWN_DIR = ROOT / ".bench" / "api-town"
TOWN_DATASET = "1"  # bump when town_prepare() changes
TOWN_DB = "stadtpuls"
TOWN_FIRST = date(2025, 1, 1)  # the simulated year: local days 2025-01-01 to 2025-12-31
TOWN_SEED = 1


def _cli(args: list[str], env: dict[str, str], log: Path) -> None:
    """Run ``stadtpuls ARGS`` with ``env``; its output goes to ``log`` and its last line to the console."""
    began = time.perf_counter()
    with log.open("a") as out:
        out.write(f"$ stadtpuls {' '.join(args)}\n")
        out.flush()
        done = subprocess.run([str(ROOT / ".venv" / "bin" / "stadtpuls"), *args], env=env, stdout=out,
                              stderr=subprocess.STDOUT, check=False)
    tail = log.read_text().strip().splitlines()[-1:] or [""]
    if done.returncode:
        raise SystemExit(f"stadtpuls {' '.join(args)} failed ({done.returncode}): {tail[0]}; see {log}")
    print(f"stadtpuls {' '.join(args)}: {time.perf_counter() - began:.0f} s; {tail[0][-300:]}", flush=True)


def _town_state(marker: Path) -> dict[str, Any]:
    if marker.exists():
        state: dict[str, Any] = json.loads(marker.read_text())
        if state.get("version") == TOWN_DATASET:
            return state
    return {}


def town_prepare(name: str, days: int, fresh: bool, chunk_days: int) -> date:
    """Build the data set as a town gets it, in ``TOWN_DIR``; returns the end (exclusive) of the processed days.

    ``stadtpuls simulate backfill`` writes ``days`` local days of the town from ``TOWN_FIRST`` through the ingest
    pipeline, then ``stadtpuls process backfill`` computes the processed outputs, ``chunk_days`` UTC days per
    call. Each finished step is noted in ``dataset.json``, so an interrupted build goes on where it stopped.
    """
    marker = TOWN_DIR / "dataset.json"
    state = {} if fresh else _town_state(marker)
    wanted = {"version": TOWN_DATASET, "town": name, "days": days, "first": TOWN_FIRST.isoformat()}
    if any(state.get(k) != v for k, v in wanted.items()):
        state = {}
    if not state:
        if TOWN_DIR.exists():
            shutil.rmtree(TOWN_DIR)
        TOWN_DIR.mkdir(parents=True)
        state = dict(wanted)
    end = TOWN_FIRST + timedelta(days=days)
    processed = date.fromisoformat(state.get("processed_until", TOWN_FIRST.isoformat()))
    if state.get("backfilled") and processed >= end and state.get("live_pass"):
        print(f"reusing the simulated town in {TOWN_DIR} ({days} days, processed)", flush=True)
        return end
    log = TOWN_DIR / "build.log"
    with InfluxServer(TOWN_DIR / "influx") as influx:
        env = {**os.environ, "STADTPULS_INFLUX_URL": influx.url, "STADTPULS_INFLUX_DB": TOWN_DB,
               "STADTPULS_DATABASE_URL": registry_url(TOWN_DIR), "STADTPULS_DATA_DIR": str(TOWN_DIR / "data")}
        if not state.get("backfilled"):
            _cli(["simulate", "backfill", "--town", name, "--days", str(days), "--start", TOWN_FIRST.isoformat(),
                  "--seed", str(TOWN_SEED)], env, log)
            state["backfilled"] = True
            marker.write_text(json.dumps(state))
        while processed < end:
            stop = min(processed + timedelta(days=chunk_days), end)
            _cli(["process", "backfill", "--start", processed.isoformat(), "--end", stop.isoformat()], env, log)
            processed = stop
            state["processed_until"] = processed.isoformat()
            marker.write_text(json.dumps(state))
        if not state.get("live_pass"):
            live_pass(env, datetime.combine(end, datetime.min.time(), tzinfo=BERLIN))
            state["live_pass"] = True
            marker.write_text(json.dumps(state))
    return end


def live_pass(env: dict[str, str], now: datetime) -> None:
    """What the running service writes at ``now`` (the end of the simulated days): a processing pass (the live
    lot availability; a backfill leaves it out) and the fleet summary (the lots' locations, health).
    """
    import asyncio

    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService
    from stadtpuls.settings import InfluxSettings, RegistrySettings, Settings

    settings = Settings(influx=InfluxSettings(url=env["STADTPULS_INFLUX_URL"], db=env["STADTPULS_INFLUX_DB"]),
                        registry=RegistrySettings(database_url=env["STADTPULS_DATABASE_URL"]),
                        data_dir=Path(env["STADTPULS_DATA_DIR"]))
    service = ProcessingService(settings, Options(load_bands()))
    stamp = int(now.timestamp()) * NS
    began = time.perf_counter()
    passed = asyncio.run(service.run_pass(stamp))
    fleet = asyncio.run(service.summarise_fleet(stamp))
    print(f"processing pass and fleet summary at {now.isoformat()}: {passed.sites} sites, {passed.points:,} points, "
          f"{fleet.sites} sites summarised, in {time.perf_counter() - began:.0f} s", flush=True)


def town_processed_until() -> date:
    """The end (exclusive) of the days processed so far in ``TOWN_DIR`` (for a measurement of a partial build)."""
    state = _town_state(TOWN_DIR / "dataset.json")
    if not state.get("backfilled") or "processed_until" not in state:
        raise SystemExit(f"no processed days in {TOWN_DIR}: build it first")
    return date.fromisoformat(state["processed_until"])


def _stamp(day: date) -> str:
    """Local midnight of ``day`` in Europe/Berlin, RFC 3339, escaped for a query string."""
    return datetime.combine(day, datetime.min.time(), tzinfo=BERLIN).isoformat().replace("+", "%2B")


def town_dataset(name: str, end: date) -> DataSet:
    """The questions about the simulated town ``name``, processed up to ``end`` (exclusive), with its devices,
    sites and stations: the newest complete local day and ISO week, the year (or what of it is processed).
    """
    from firmware_sim.town import load_town

    town = load_town(name)
    ours = [d for d in town.devices if d.municipality == town.municipality]
    others = sorted({d.municipality for d in town.devices} - {town.municipality})
    parking = [d for d in ours if d.kind == "parking"]
    stations = [d for d in ours if d.model == "decentlab-dl-pm"] or [d for d in ours if d.model.startswith("decentlab")]
    footfall = sorted({d.site for d in ours if d.kind == "footfall"})
    station = stations[0]
    day = end - timedelta(days=1)
    monday = end - timedelta(days=end.weekday())
    week = f"start={_stamp(monday - timedelta(days=7))}&end={_stamp(monday)}"
    cases = {
        "latest values of one device": f"/v1/devices/{parking[len(parking) // 2].dev_eui}/latest",
        "one day of 15-min rollups, one device": f"/v1/timeseries?dev_eui={station.dev_eui}&quantity=pm10"
                                                 f"&start={_stamp(day)}&end={_stamp(end)}&every=15m&agg=mean",
        "one week of footfall per site (hourly, with comparisons)": f"/v1/footfall/{footfall[0]}?{week}"
                                                                    "&every=1h&compare=true",
        "parking availability now": "/v1/parking",
        "a year of daily EAQI, one station": f"/v1/air/stations/{station.dev_eui}/eaqi?every=1d"
                                             f"&start={_stamp(TOWN_FIRST)}&end={_stamp(end)}",
        "PM10 exceedance days in a year": f"/v1/air/exceedances?year={TOWN_FIRST.year}&site={station.site}",
    }
    paths = [f"/v1/devices/{d.dev_eui}/latest" for d in ours[::7]]
    return DataSet(TOWN_DIR, town.municipality, others[0] if others else NEIGHBOUR, cases, paths,
                   f"town {name!r} simulated {TOWN_FIRST} to {end - timedelta(days=1)}, {TOWN_DIR.relative_to(ROOT)}")


def latencies(server: Server, key: str, path: str, count: int) -> tuple[float, float, float]:
    """p50 and p99 (ms) of ``count`` sequential requests of ``path`` after 20 to warm up, and the API process's
    CPU time per request (ms; InfluxDB's not included): on a loaded machine the least disturbed of the three.
    """
    with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=30) as client:
        for _ in range(20):
            client.get(path).raise_for_status()
        times = []
        cpu = server.cpu_seconds()
        for _ in range(count):
            began = time.perf_counter()
            client.get(path).raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
        cpu = server.cpu_seconds() - cpu
    return statistics.median(times), percentile(times, 0.99), cpu * 1000 / count


@dataclass
class Wrk:
    """What wrk reports."""

    rate: float  # requests/s
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers, socket errors and timeouts
    cpu_ms: float = 0.0  # the API process's CPU time per request during the run


def _ms(text: str) -> float:
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
    for unit in ("us", "ms", "s", "m"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "").isdigit():
            return float(text[: -len(unit)]) * units[unit]
    raise ValueError(f"not a wrk duration: {text!r}")


WRK_PATHS = [f"/v1/devices/{eui(k)}/latest" for k in range(0, DEVICES, 7)]  # 86 devices


def wrk(server: Server, key: str, seconds: int, connections: int, paths: list[str]) -> Wrk:
    """Requests/s of ``paths`` (latest values of devices) in turn, from wrk in a process of its own."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    script = Path(tempfile.mkdtemp()) / "latest.lua"
    listed = ", ".join(f'"{path}"' for path in paths)
    script.write_text(
        f"local paths = {{{listed}}}\nlocal i = 0\n"
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        "request = function()\n  i = i % #paths + 1\n  return wrk.format(\"GET\", paths[i])\nend\n"
    )
    cpu = server.cpu_seconds()
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script),
                           server.base], capture_output=True, text=True, check=True)
    cpu = server.cpu_seconds() - cpu
    rate, p50, p99, errors, requests = 0.0, 0.0, 0.0, 0, 1
    for raw in done.stdout.splitlines():
        words = raw.split()
        if words[1:3] == ["requests", "in"]:
            requests = max(1, int(words[0]))
        elif raw.startswith("Requests/sec:"):
            rate = float(words[1])
        elif words[:1] == ["50%"]:
            p50 = _ms(words[1])
        elif words[:1] == ["99%"]:
            p99 = _ms(words[1])
        elif raw.strip().startswith("Non-2xx"):
            errors += int(words[-1])
        elif raw.strip().startswith("Socket errors"):
            errors += sum(int(w.rstrip(",")) for w in words if w.rstrip(",").isdigit())
    return Wrk(rate, p50, p99, errors, cpu * 1000 / requests)


@dataclass
class Figures:
    """The measurements of one code tree over all rounds."""

    p50: dict[str, list[float]] = field(default_factory=dict)
    p99: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)
    wrk: list[Wrk] = field(default_factory=list)


def measure(server: Server, key: str, args: argparse.Namespace, figures: Figures, data: DataSet) -> None:
    """One round against one server."""
    for name, path in data.cases.items():
        p50, p99, cpu = latencies(server, key, path, args.requests)
        figures.p50.setdefault(name, []).append(p50)
        figures.p99.setdefault(name, []).append(p99)
        figures.cpu.setdefault(name, []).append(cpu)
    if args.wrk_seconds:
        figures.wrk.append(wrk(server, key, args.wrk_seconds, args.connections, data.wrk_paths))


def report(trees: dict[str, Figures], loads: list[str], cases: dict[str, str]) -> None:
    """The medians over the rounds, the trees side by side, as a Markdown table."""
    names = list(trees)
    print(f"\nload average (1, 5, 15 min) before each round: {'; '.join(loads)}")
    print("| request | " + " | ".join(f"{n} p50 ms | {n} p99 ms | {n} CPU ms" for n in names) + " |")
    print("|---|" + "---:|---:|---:|" * len(names))
    for case in cases:
        cells = " | ".join(f"{statistics.median(trees[n].p50[case]):.1f} | {statistics.median(trees[n].p99[case]):.1f}"
                           f" | {statistics.median(trees[n].cpu[case]):.2f}" for n in names)
        print(f"| {case} | {cells} |")
    if all(trees[n].wrk for n in names):
        print("\n| latest values with wrk | " + " | ".join(names) + " |\n|---|" + "---:|" * len(names))
        for label, pick in (("requests/s", lambda w: w.rate), ("p50 ms", lambda w: w.p50_ms),
                            ("p99 ms", lambda w: w.p99_ms), ("errors", lambda w: float(w.errors)),
                            ("API CPU ms per request", lambda w: w.cpu_ms),
                            ("requests/s per CPU second of the API", lambda w: 1000 / w.cpu_ms if w.cpu_ms else 0.0)):
            cells = " | ".join(f"{statistics.median(pick(w) for w in trees[n].wrk):,.2f}" for n in names)
            print(f"| {label} (median of {len(trees[names[0]].wrk)}) | {cells} |")
        for n in names:
            print(f"{n}: requests/s per round {[round(w.rate) for w in trees[n].wrk]}")


def fuzz(base: str, keys: dict[str, str], examples: int) -> bool:
    """Run schemathesis against ``/openapi.json`` with a key of each role, with valid requests and with requests
    that break the schema on purpose; True when no answer was a 5xx and every one was as documented.

    Unknown query parameters are ignored, as HTTP APIs do; so schemathesis' check that every schema-violating
    request is refused is not made.
    """
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    passed = True
    for role, key in keys.items():
        for mode in GenerationMode:
            began = time.perf_counter()
            statuses: dict[int, int] = {}
            failures = [failure for operation in operations
                        if (failure := _fuzz_operation(operation, mode, base, key, examples, statuses))]
            passed = passed and not failures
            print(f"fuzz {role} {mode.value}: {sum(statuses.values()):,} requests over {len(operations)} operations "
                  f"in {time.perf_counter() - began:.0f} s; answers {dict(sorted(statuses.items()))}; "
                  f"{len(failures)} failing operations", flush=True)
            for failure in failures:
                print(f"  FAIL {failure}", flush=True)
    return passed


def _fuzz_operation(operation: Any, mode: Any, base: str, key: str, examples: int, statuses: dict[int, int]) -> str:
    """Up to ``examples`` generated requests of one operation; the first failure, or an empty string."""
    import hypothesis
    import schemathesis
    from schemathesis import checks

    performed = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
                 checks.response_headers_conformance, checks.response_schema_conformance]

    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=examples, deadline=None, database=None,
                         suppress_health_check=list(hypothesis.HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, headers={"X-API-Key": key})
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        case.validate_response(response, checks=performed)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        return ""  # nothing invalid can be made of this operation (e.g. no parameters)
    except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - the first failure, reported; the run goes on
        return f"{operation.label}: {' '.join(str(exc).split())[:600]}"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="sequential requests per question and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wrk-seconds", type=int, default=15, help="0: no wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--baseline", type=Path, help="a checkout of the code before, measured side by side")
    parser.add_argument("--baseline-server", choices=("auto", "asyncio"), default="asyncio",
                        help="the baseline's event loop and HTTP parser: asyncio and h11 (what uvicorn without "
                             "uvloop and httptools runs), or uvicorn's auto choice")
    parser.add_argument("--fuzz", type=int, default=0, help="schemathesis examples per operation and role; 0: none")
    parser.add_argument("--fresh", action="store_true", help="write the data set again")
    parser.add_argument("--town", help="instead of the synthetic data set: this simulated town (e.g. default), "
                                       "a year through the simulator's backfill and ingest, then processed")
    parser.add_argument("--town-days", type=int, default=365, help="local days of the town from 2025-01-01")
    parser.add_argument("--chunk-days", type=int, default=31, help="UTC days per `stadtpuls process backfill`")
    parser.add_argument("--partial", action="store_true",
                        help="with --town: measure what is processed so far, without building further")
    parser.add_argument("--build-only", action="store_true", help="with --town: build the data set and stop")
    parser.add_argument("--with-synthetic", action="store_true",
                        help="with --town: measure the synthetic data set too, alternating, side by side")
    args = parser.parse_args()
    datasets: dict[str, DataSet] = {}
    if args.town:
        end = town_processed_until() if args.partial else town_prepare(args.town, args.town_days, args.fresh,
                                                                         args.chunk_days)
        if args.build_only:
            return
        datasets["town"] = town_dataset(args.town, end)
    if not args.town or args.with_synthetic or args.baseline:
        prepare(args.fresh and not args.town)
        datasets["synthetic" if args.town else "after"] = synthetic()
    run(args, datasets)


@dataclass(frozen=True)
class Tree:
    """One API to measure: a code tree over a database of a data set."""

    tree: Path
    db: str
    server_args: list[str]
    data: DataSet
    influx_url: str
    key: str


def show_answers(server: Server, key: str, name: str, data: DataSet) -> None:
    """Print the size and the beginning of each question's answer, to see that there is data behind it."""
    with httpx.Client(base_url=server.base, headers={"X-API-Key": key}, timeout=60) as client:
        for question, path in data.cases.items():
            answer = client.get(path)
            print(f"{name}: {question}: {answer.status_code}, {len(answer.content):,} bytes: "
                  f"{answer.text[:160]}", flush=True)


def run(args: argparse.Namespace, datasets: dict[str, DataSet]) -> None:
    """The rounds, the report and the fuzz run against the data sets (by column name; the first is fuzzed)."""
    for label, data in datasets.items():
        print(f"{label}: {data.label}", flush=True)
        for name, path in data.cases.items():
            print(f"  {name}: GET {path}", flush=True)
    with ExitStack() as stack:
        trees: dict[str, Tree] = {}
        for label, data in datasets.items():
            influx = stack.enter_context(InfluxServer(data.run_dir / "influx"))
            key = KeyStore(registry_url(data.run_dir)).create(Role.READER, municipality=data.municipality,
                                                               name="bench")[1]
            if args.baseline and data.run_dir == RUN_DIR:
                before = ["--loop", "asyncio", "--http", "h11"] if args.baseline_server == "asyncio" else []
                trees["before"] = Tree(args.baseline.resolve(), DB_WEEKLY, before, data, influx.url, key)
            db = TOWN_DB if data.run_dir == TOWN_DIR else DB
            trees[label] = Tree(ROOT, db, [], data, influx.url, key)
        figures = {name: Figures() for name in trees}
        for name, t in trees.items():
            with api_server(t.tree, t.influx_url, t.db, t.server_args, registry_url(t.data.run_dir)) as server:
                show_answers(server, t.key, name, t.data)
        loads = []
        if args.rounds and (args.requests or args.wrk_seconds):
            for round_ in range(args.rounds):
                loads.append(load_average())
                order = list(trees) if round_ % 2 == 0 else list(reversed(trees))
                for name in order:
                    t = trees[name]
                    with api_server(t.tree, t.influx_url, t.db, t.server_args, registry_url(t.data.run_dir)) as server:
                        measure(server, t.key, args, figures[name], t.data)
                    print(f"round {round_ + 1} {name}: done, load {load_average()}", flush=True)
            report(figures, loads, next(iter(datasets.values())).cases)
        if args.fuzz:
            first = next(t for t in trees.values() if t.tree == ROOT)
            store = KeyStore(registry_url(first.data.run_dir))
            keys = {"reader": first.key,
                    "technician": store.create(Role.TECHNICIAN, municipality=first.data.neighbour,
                                               name="bench fuzz")[1],
                    "admin": store.create(Role.ADMIN, name="bench fuzz")[1]}
            with api_server(ROOT, first.influx_url, first.db, [], registry_url(first.data.run_dir)) as server:
                if not fuzz(server.base, keys, args.fuzz):
                    raise SystemExit("schemathesis found answers that break the documented schema")


if __name__ == "__main__":
    main()
