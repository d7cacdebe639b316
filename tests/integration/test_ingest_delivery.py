"""Ingest loses nothing and doubles nothing: kill -9, InfluxDB outage, broker restart, duplicates, late data,
shared subscriptions, write rejections. Each test counts what was published and what InfluxDB holds.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, Stream, device_eui, publish
from devtools.localstack import InfluxServer, MosquittoServer, create_database, free_port
from ingest.quarantine import QuarantineStore
from ingest.service import IngestOptions, IngestService
from stadtpuls.settings import InfluxSettings, IngestSettings, MqttSettings, Settings

pytestmark = pytest.mark.integration

DEVICES = 20
WAIT = 90.0  # s at most for InfluxDB to hold what is expected (the count is asserted, not the time)


def register_devices(settings: Settings) -> None:
    registry = DeviceRegistry(settings.registry_url)
    for i in range(DEVICES):
        registry.upsert(device_eui(i), model=MODEL, name=f"sensor-{i}", site="Marktplatz", municipality="Musterstadt")


def make_settings(broker: MosquittoServer, influx: InfluxServer, db: str, data_dir: Path) -> Settings:
    settings = Settings(
        mqtt=MqttSettings(url=broker.url),
        influx=InfluxSettings(url=influx.url, db=db),
        ingest=IngestSettings(batch_interval=0.1),
        data_dir=data_dir,
    )
    register_devices(settings)
    return settings


def influx_count(url: str, db: str, measurement: str = "uplink") -> int:
    response = httpx.get(
        f"{url}/query", params={"db": db, "q": f'SELECT count("value") FROM "{measurement}"'
                                if measurement != "uplink" else 'SELECT count("f_cnt") FROM "uplink"'},
        timeout=10,
    )
    series = response.json()["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


def wait_for_count(url: str, db: str, expected: int, measurement: str = "uplink") -> int:
    """Poll until InfluxDB holds ``expected`` points (or more, or WAIT passes); returns the count then."""
    deadline = time.monotonic() + WAIT
    count = influx_count(url, db, measurement)
    while count < expected and time.monotonic() < deadline:
        time.sleep(0.25)
        count = influx_count(url, db, measurement)
    time.sleep(0.5)  # anything beyond the expected count (a double) would show up now
    return influx_count(url, db, measurement)


def influx_times(url: str, db: str) -> list[int]:
    response = httpx.get(
        f"{url}/query", params={"db": db, "q": 'SELECT "f_cnt" FROM "uplink"', "epoch": "ns"}, timeout=30
    )
    series = response.json()["results"][0].get("series", [])
    return sorted(int(row[0]) for s in series for row in s["values"])


@pytest.fixture
async def service_factory() -> AsyncIterator[object]:
    """Start in-process ingest services; stops them all at the end."""
    running: list[tuple[IngestService, asyncio.Task[None]]] = []

    async def start(settings: Settings, client_id: str, **kwargs: object) -> IngestService:
        service = IngestService(settings, IngestOptions(client_id=client_id, **kwargs))  # type: ignore[arg-type]
        ready = asyncio.Event()
        task = asyncio.create_task(service.run(ready=ready))
        await asyncio.wait_for(ready.wait(), timeout=30)
        running.append((service, task))
        return service

    yield start
    for service, task in running:
        service.stop()
        await asyncio.wait_for(task, timeout=30)


# --- subprocess ingest ---------------------------------------------------------------------------------------
def ingest_process(settings: Settings, *args: str) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update({
        "STADTPULS_MQTT_URL": settings.mqtt.url,
        "STADTPULS_INFLUX_URL": settings.influx.url,
        "STADTPULS_INFLUX_DB": settings.influx.db,
        "STADTPULS_DATA_DIR": str(settings.data_dir),
        "STADTPULS_BATCH_INTERVAL": "0.1",
    })
    with (settings.data_dir / f"ingest-{uuid.uuid4().hex[:6]}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "stadtpuls.cli", "ingest", *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def wait_subscribed(broker: MosquittoServer, client_id: str, times: int = 1) -> None:
    """Wait until the broker logged ``times`` subscriptions of ``client_id`` (it is ready to receive)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        text = broker.log_path.read_text(errors="replace")
        if text.count(f" as {client_id} ") >= times:
            time.sleep(0.5)  # its SUBSCRIBE follows the CONNECT at once
            return
        time.sleep(0.1)
    raise AssertionError(f"{client_id} did not connect to the broker; log {broker.log_path}")


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --- the tests -----------------------------------------------------------------------------------------------
def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    client_id = f"kill9-{uuid.uuid4().hex[:6]}"
    processes.append(ingest_process(settings, "--client-id", client_id))
    wait_subscribed(mosquitto, client_id)
    stream = Stream(6000, devices=DEVICES, name=f"kill9-{uuid.uuid4()}")
    publisher = threading.Thread(
        target=publish, args=(mosquitto.host, mosquitto.port, list(stream.messages())), kwargs={"rate": 3000}
    )
    publisher.start()
    deadline = time.monotonic() + WAIT
    while influx_count(influxdb.url, influx_db_name) == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    processes[0].send_signal(signal.SIGKILL)  # mid-stream: some batches written, some received, some not
    processes[0].wait()
    killed_at = influx_count(influxdb.url, influx_db_name)
    publisher.join()
    processes.append(ingest_process(settings, "--client-id", client_id))

    assert 0 < killed_at < stream.count
    assert wait_for_count(influxdb.url, influx_db_name, stream.count) == stream.count
    assert wait_for_count(influxdb.url, influx_db_name, stream.count, "temperature") == stream.count


async def test_influxdb_outage_spools_to_disk_and_replays_in_order(
    mosquitto: MosquittoServer, fresh_influxdb: InfluxServer, tmp_path: Path, service_factory: object
) -> None:
    db = "outage"
    settings = make_settings(mosquitto, fresh_influxdb, db, tmp_path)
    service: IngestService = await service_factory(settings, f"outage-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    stream = Stream(4000, devices=DEVICES, name=f"outage-{uuid.uuid4()}")
    messages = list(stream.messages())
    await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, messages[:1000])
    await asyncio.to_thread(wait_for_count, fresh_influxdb.url, db, 1000)

    fresh_influxdb.stop()
    await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, messages[1000:])
    deadline = time.monotonic() + WAIT
    while service.received < stream.count and time.monotonic() < deadline:  # all taken from the broker ...
        await asyncio.sleep(0.1)
    spooled = sorted(service.spool_dir.glob("*.lp"))
    while service._pending and time.monotonic() < deadline:  # ... and acknowledged, because they are spooled
        await asyncio.sleep(0.1)
    assert service.received == stream.count
    assert service._pending == 0
    assert spooled, "batches written during the outage must be in the spool"

    fresh_influxdb.start()
    assert await asyncio.to_thread(wait_for_count, fresh_influxdb.url, db, stream.count) == stream.count
    deadline = time.monotonic() + WAIT
    while list(service.spool_dir.glob("*.lp")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert list(service.spool_dir.glob("*.lp")) == []
    assert await asyncio.to_thread(influx_times, fresh_influxdb.url, db) == [
        stream.base_ns + i * 1000 for i in range(stream.count)
    ]


async def test_broker_restart_mid_stream_loses_nothing(
    fresh_mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,
) -> None:
    settings = make_settings(fresh_mosquitto, influxdb, influx_db_name, tmp_path)
    await service_factory(settings, f"restart-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    stream = Stream(4000, devices=DEVICES, name=f"restart-{uuid.uuid4()}")
    messages = list(stream.messages())
    await asyncio.to_thread(publish, fresh_mosquitto.host, fresh_mosquitto.port, messages[:2000])
    await asyncio.to_thread(fresh_mosquitto.restart)  # ingest is still working through the first half
    await asyncio.to_thread(publish, fresh_mosquitto.host, fresh_mosquitto.port, messages[2000:])
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, stream.count) == stream.count


async def test_every_uplink_published_twice_is_stored_once(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path, service_factory: object
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    service: IngestService = await service_factory(settings, f"twice-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    stream = Stream(2000, devices=DEVICES, name=f"twice-{uuid.uuid4()}")
    messages = list(stream.messages())
    first_half = [m for pair in zip(messages[:1000], messages[:1000], strict=True) for m in pair]  # back to back
    doubled = first_half + messages[1000:] + messages[1000:]  # and a whole replay later
    await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, doubled)
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, stream.count) == stream.count
    assert service.received == 2 * stream.count
    assert service.duplicates == stream.count


async def test_late_and_out_of_order_uplinks_are_stored_at_their_own_time(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path, service_factory: object
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    await service_factory(settings, f"order-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    day_ago = time.time_ns() - 86_400 * 10**9
    stream = Stream(2000, devices=DEVICES, base_ns=day_ago, name=f"order-{uuid.uuid4()}")
    order = list(range(stream.count))
    random.Random(7).shuffle(order)
    await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, list(stream.messages(order)))
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, stream.count) == stream.count
    expected = [stream.base_ns + i * 1000 for i in range(stream.count)]
    assert await asyncio.to_thread(influx_times, influxdb.url, influx_db_name) == expected


def test_two_workers_share_one_subscription_and_stop_cleanly(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    client_id = f"shared-{uuid.uuid4().hex[:6]}"
    port = free_port()
    processes.append(ingest_process(
        settings, "--client-id", client_id, "--workers", "2", "--share-group", client_id,
        "--metrics-port", str(port),
    ))
    for worker in (f"{client_id}-w0", f"{client_id}-w1"):
        wait_subscribed(mosquitto, worker)
    stream = Stream(4000, devices=DEVICES, name=f"shared-{uuid.uuid4()}")
    publish(mosquitto.host, mosquitto.port, list(stream.messages()))
    assert wait_for_count(influxdb.url, influx_db_name, stream.count) == stream.count

    received = [_metric(port + i, "stadtpuls_ingest_messages_total") for i in range(2)]
    assert all(n > 0 for n in received), f"each worker takes a share: {received}"
    assert sum(received) == stream.count
    processes[0].send_signal(signal.SIGTERM)
    assert processes[0].wait(timeout=60) == 0


def _metric(port: int, name: str) -> float:
    deadline = time.monotonic() + 10
    text = ""
    while time.monotonic() < deadline:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        total = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + "{"))
        if total:
            return total
        time.sleep(0.2)
    return 0.0


async def test_write_rejected_by_influxdb_goes_to_quarantine_not_retry(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path, service_factory: object
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    stream = Stream(40, devices=DEVICES, base_ns=time.time_ns() - 3600 * 10**9, name=f"conflict-{uuid.uuid4()}")
    create_database(influxdb.url, influx_db_name)
    # "humidity" already holds a string field "value": every humidity line of the stream is a type conflict
    conflict = f'humidity,dev_eui=X value="text" {stream.base_ns - 10**9}'
    response = await asyncio.to_thread(httpx.post, f"{influxdb.url}/write", params={"db": influx_db_name},
                                       content=conflict)
    response.raise_for_status()
    await service_factory(settings, f"conflict-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    await asyncio.to_thread(publish, mosquitto.host, mosquitto.port, list(stream.messages()))
    store = QuarantineStore(settings.registry_url)
    deadline = time.monotonic() + WAIT
    while store.count() < stream.count and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    rows = store.select(stage="write")
    assert len(rows) == stream.count
    assert all("field type conflict" in r.reason for r in rows)
    assert await asyncio.to_thread(influx_count, influxdb.url, influx_db_name) == stream.count  # the rest is kept
