"""``stadtpuls demo``: a whole town on this machine — broker, InfluxDB, simulator, ingest, processing and API.

Mosquitto and InfluxDB run as local processes under a run folder, on free loopback ports (never the system's
1883), so the demo collides with nothing. First the town's recent past is written (``--history-days`` whole
local days before today, through the ingest pipeline) and processed; then the simulator runs live from now,
at real time unless ``--speed`` says otherwise, with ingest and the processing service beside it. Every ten
seconds the demo asks its own API for the latest values of a few simulated devices, and InfluxDB for the
latest lot occupancy, and prints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import click
import httpx

from devtools.localstack import InfluxServer, MosquittoServer, free_port
from stadtpuls.errors import UnavailableError
from stadtpuls.settings import InfluxSettings, MqttSettings, RegistrySettings, Settings, get_settings

log = logging.getLogger(__name__)

START_TIMEOUT = 60.0  # s for ingest and the API to come up
PROCESS_EVERY = 30.0  # s between passes of the demo's processing service
ALARMS_EVERY = 60.0  # s between alarms checks (as `stadtpuls alarms check --watch 60` in the stack)
EXAMPLES = (  # what to look at in InfluxDB once history is processed
    (
        "occupancy per lot (hourly, last 2 days)",
        'SELECT mean("occupancy") FROM "r15m"."lot_occupancy" WHERE time > now() - 2d GROUP BY time(1h), "site"',
    ),
    (
        "people per hour per counter site (last 2 days)",
        'SELECT "count" FROM "r1h"."footfall_site" WHERE time > now() - 2d GROUP BY "site", "direction"',
    ),
    (
        "EAQI per station (last day)",
        'SELECT "index" FROM "r1h"."eaqi" WHERE time > now() - 1d GROUP BY "site", "dev_eui"',
    ),
)
LOT_OCCUPANCY = 'SELECT last("occupancy") FROM "r15m"."lot_occupancy" WHERE time > now() - 1d GROUP BY "site"'


def _port_or_free(preferred: int) -> int:
    if preferred == 0:
        return free_port()
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred))
        except OSError:
            return free_port()
    return preferred


async def _until_ready(ready: asyncio.Event, task: asyncio.Task[Any], *, what: str) -> None:
    """Wait until ``ready`` is set; what ``task`` raises if it ends first (ingest raises IngestError).

    Raises:
        UnavailableError: the task ended without an error, or was not ready in time.
    """
    waiter = asyncio.create_task(ready.wait())
    try:
        await asyncio.wait({waiter, task}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
    if ready.is_set():
        return
    if task.done():
        task.result()  # raises the task's own error
        raise UnavailableError(f"the demo's {what} stopped while starting")
    task.cancel()
    raise UnavailableError(f"the demo's {what} was not ready within {START_TIMEOUT:g} s")


async def _serve_api(settings: Settings, port: int) -> tuple[Any, asyncio.Task[None]]:
    import uvicorn

    from api.app import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if task.done():
            task.result()
            raise UnavailableError(f"the demo's API could not listen on 127.0.0.1:{port}")
        if time.monotonic() > deadline:
            task.cancel()
            raise UnavailableError(f"the demo's API was not ready within {START_TIMEOUT:g} s")
        await asyncio.sleep(0.05)
    return server, task


def _format_value(v: dict[str, Any]) -> str:
    channel = f"[{v['channel']}]" if v["channel"] else ""
    unit = "" if v["unit"] == "1" else f" {v['unit']}"
    return f"{v['quantity']}{channel}={v['value']:g}{unit}"


def _format_latest(body: dict[str, Any]) -> str:
    device = body["device"]
    values = ", ".join(_format_value(v) for v in body["values"][:6])
    when = body["values"][0]["time"][:19] if body["values"] else "-"
    return f"  {device['name'][:28]:28} {device['model']:26} {when}  {values or 'no data yet'}"


async def _check_alarms(settings: Settings, every: float) -> None:
    """The periodic alarms check, in a thread (the registry is synchronous), until cancelled; the processing
    service's fleet summaries count the open alarms for Grafana.
    """
    from devices.alarms import AlarmStore, check
    from devices.registry import DeviceRegistry
    from stadtpuls.influx import InfluxClient, InfluxError

    registry, store = DeviceRegistry(settings.registry_url), AlarmStore(settings.registry_url)

    async def once() -> None:
        async with InfluxClient.from_settings(settings.influx) as influx:
            await check(registry, store, influx)

    while True:
        with contextlib.suppress(InfluxError):
            await asyncio.to_thread(asyncio.run, once())
        await asyncio.sleep(every)


async def _report(api_url: str, key: str, settings: Settings, every: float) -> None:
    from stadtpuls.influx import InfluxClient, InfluxError

    async with (
        httpx.AsyncClient(base_url=api_url, timeout=10, headers={"X-API-Key": key}) as http,
        InfluxClient.from_settings(settings.influx) as influx,
    ):
        while True:
            await asyncio.sleep(every)
            devices = (await http.get("/v1/devices")).json()["data"]
            picks: dict[str, dict[str, Any]] = {}
            for d in devices:
                picks.setdefault(d["device_class"], d)
            click.echo(f"\n{time.strftime('%H:%M:%S')}  latest values via {api_url}/v1/devices/<dev_eui>/latest")
            for d in picks.values():
                body = (await http.get(f"/v1/devices/{d['dev_eui']}/latest")).json()
                click.echo(_format_latest(body))
            with contextlib.suppress(InfluxError):
                lots = await influx.query(LOT_OCCUPANCY)
                shares = ", ".join(
                    f"{s['tags']['site']} {s['values'][0][1]:.0%}"
                    for s in lots
                    if s.get("values") and s["values"][0][1] is not None
                )
                click.echo(f"  lot occupancy (processed, last 15 minutes): {shares or 'not yet computed'}")


def _influxql_curl(settings: Settings, statement: str) -> str:
    return f"curl '{settings.influx.url}/query?db={quote(settings.influx.db)}&q={quote(statement)}'"


def _banner(settings: Settings, api_url: str, run_dir: Path, devices: int, key: str, history: str) -> str:
    some = f"{api_url}/v1/devices"
    header = f'-H "X-API-Key: {key}"'
    lines = [
        "",
        "Stadtpuls demo is running.",
        f"  history        {history}",
        f"  API            {api_url}/docs   (health: {api_url}/health)",
        f"  API key        {key}   (admin, for this demo's registry only)",
        f"  devices        curl {header} {some}",
        f"  latest values  curl {header} {api_url}/v1/devices/<dev_eui>/latest",
        f"  technicians    {api_url}/technician   (sign in with a key from: stadtpuls keys create --role technician"
        " --municipality Lindenbrück)",
        f"  parking now    curl {header} {api_url}/v1/parking",
        f"  InfluxDB       {settings.influx.url}  database {settings.influx.db!r} (InfluxQL at /query)",
        '  processed data (InfluxQL; the README\'s "Processed data" lists every measurement):',
    ]
    for what, statement in EXAMPLES:
        lines += [f"    {what}:", f"      {statement}", f"      {_influxql_curl(settings, statement)}"]
    lines += [
        f"  MQTT broker    {settings.mqtt.url}",
        f"  run folder     {run_dir}   ({devices} simulated devices registered)",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def _history(settings: Settings, days: int) -> str:
    """Write the ``days`` whole local days before today through ingest, then process them; a summary line."""
    from firmware_sim.backfill import run_backfill
    from firmware_sim.town import load_town
    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService

    zone = load_town("default").timezone
    first = datetime.now(zone).date() - timedelta(days=days)
    click.echo(f"writing {days} days of history ({first} to yesterday) through ingest ...")
    began = time.monotonic()
    result = await asyncio.to_thread(run_backfill, settings, town="default", days=days, start=first, register=False)
    ingested = time.monotonic() - began
    click.echo(f"  {result.uplinks:,} uplinks in {ingested:.0f} s; processing them ...")
    start = int(datetime(first.year, first.month, first.day, tzinfo=zone).timestamp()) * 1_000_000_000
    report = await ProcessingService(settings, Options(load_bands())).backfill(start, time.time_ns())
    summary = (
        f"{days} days from {first}: {result.uplinks:,} uplinks ingested in {ingested:.0f} s, "
        f"{report.points:,} processed points in {time.monotonic() - began - ingested:.0f} s"
    )
    click.echo(f"  processed: {report.points:,} points")
    return summary


async def run_demo(
    run_dir: Path, *, speed: float, duration: float, api_port: int, report_every: float, history_days: int = 28
) -> None:
    """Write and process ``history_days`` days of history, then start everything live from now (at ``speed``
    simulated seconds per second) until ``duration`` seconds pass (0 = until interrupted), and stop.
    """
    from api.keys import KeyStore, Role
    from firmware_sim import run_live
    from firmware_sim.town import load_town, register_town, town_path
    from ingest.service import IngestOptions, IngestService
    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService

    base = get_settings()
    town = load_town("default")
    with MosquittoServer(run_dir / "mosquitto") as broker, InfluxServer(run_dir / "influxdb") as influx:
        settings = base.model_copy(
            update={
                "mqtt": MqttSettings(url=broker.url),
                "influx": InfluxSettings(url=influx.url, db=base.influx.db),
                "registry": RegistrySettings(database_url=""),
                "data_dir": run_dir,
                # the simulated town's file is its calendar: detection knows its holidays and events
                "calendar": base.calendar or town_path("default"),
                "timezone": town.timezone.key,
            }
        )
        register_town(town, settings.registry_url)
        key = KeyStore(settings.registry_url).create(Role.ADMIN, name="demo")[1]
        history = await _history(settings, history_days) if history_days > 0 else "none (--history-days 0)"
        ingest = IngestService(settings, IngestOptions(client_id="stadtpuls-demo-ingest"))
        ready = asyncio.Event()
        ingest_task = asyncio.create_task(ingest.run(ready=ready))
        await _until_ready(ready, ingest_task, what="ingest")
        processing = ProcessingService(settings, Options(load_bands()))
        processing_task = asyncio.create_task(processing.run(interval=PROCESS_EVERY))
        server, api_task = await _serve_api(settings, api_port)
        api_url = f"http://127.0.0.1:{api_port}"
        sim_task = asyncio.create_task(run_live(settings, town="default", speed=speed, duration=None, register=False))
        await asyncio.sleep(1.0)
        click.echo(_banner(settings, api_url, run_dir, len(ingest.registry.list()), key, history))
        if speed > 1:
            click.echo(
                f"Note: at --speed {speed:g} the simulated clock runs ahead of now, so points lie in the future."
            )
        report_task = asyncio.create_task(_report(api_url, key, settings, report_every))
        alarms_task = asyncio.create_task(_check_alarms(settings, ALARMS_EVERY))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=duration or None)
        click.echo("\nstopping ...")
        for task in (report_task, alarms_task, sim_task):
            task.cancel()
        await asyncio.gather(report_task, alarms_task, sim_task, return_exceptions=True)
        processing.stop()
        await processing_task
        ingest.stop()
        await ingest_task
        server.should_exit = True
        await api_task
        click.echo(f"stopped; {ingest.received} uplinks received. Data stays in {run_dir}.")


@click.command("demo")
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    default=Path("run/demo"),
    show_default=True,
    help="Folder for the demo's broker, InfluxDB and registry.",
)
@click.option(
    "--history-days",
    type=click.IntRange(0, 400),
    default=28,
    show_default=True,
    help="Whole days before today written through ingest and processed before going live.",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second of the live part; above 1 its points lie in the future.",
)
@click.option(
    "--duration",
    type=float,
    default=0.0,
    show_default=True,
    help="Stop after this many seconds (0 = Ctrl-C).",
)
@click.option("--api-port", type=int, default=8000, show_default=True, help="API port (a free one if taken).")
@click.option("--report-every", type=float, default=10.0, show_default=True, help="Seconds between status reports.")
def demo_command(
    run_dir: Path, history_days: int, speed: float, duration: float, api_port: int, report_every: float
) -> None:
    """Run the whole platform on this machine with a simulated town."""
    run_dir = run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(
        run_demo(
            run_dir,
            speed=speed,
            duration=duration,
            api_port=_port_or_free(api_port),
            report_every=report_every,
            history_days=history_days,
        )
    )
