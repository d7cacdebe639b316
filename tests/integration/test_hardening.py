"""Ingest under hostile input and broken surroundings, against the real broker and InfluxDB: a poison envelope,
a future timestamp, a dropped database, a spooled line refused for good, a dying writer, two processes on one
spool.
"""

from __future__ import annotations

import asyncio
import errno
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from devtools.loadgen import uplink
from devtools.localstack import InfluxServer, MosquittoServer, create_database
from ingest import metrics
from ingest.drain import SpoolDrain
from ingest.quarantine import QuarantineStore
from ingest.replay import replay
from ingest.service import IngestFailed, IngestOptions, IngestService
from ingest.spool import Spool
from ingest.store import Quarantine
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, Settings
from tests.integration.support import publish
from tests.integration.test_ingest_delivery import (
    influx_count,
    ingest_process,
    make_settings,
    processes,  # noqa: F401 - a fixture
    service_factory,  # noqa: F401 - a fixture
    wait_for_count,
    wait_subscribed,
)

pytestmark = pytest.mark.integration

WAIT = 60.0


def nested(payload: bytes, depth: int) -> bytes:
    return payload[:-1] + b', "object": ' + b"[" * depth + b"]" * depth + b"}"


async def wait_quarantined(store: QuarantineStore, count: int) -> None:
    deadline = time.monotonic() + WAIT
    while store.count() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def test_a_poison_envelope_is_quarantined_and_acknowledged_and_the_next_is_stored(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    service: IngestService = await service_factory(settings, f"poison-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    base = time.time_ns() - 60 * 10**9
    topic, good = uplink(1, devices=20, base_ns=base, stream=f"poison-{uuid.uuid4()}")
    poison_topic, poison = uplink(2, devices=20, base_ns=base, stream=f"poison-{uuid.uuid4()}")
    poison = nested(poison, 1000)
    await asyncio.to_thread(publish, mosquitto.port, [(poison_topic, poison), (topic, good)])
    store = QuarantineStore(settings.registry_url)
    await wait_quarantined(store, 1)
    rows = store.select()
    assert [(r.stage, r.payload) for r in rows] == [("internal", poison)]
    assert rows[0].reason.startswith("internal: RecursionError")
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 1) == 1
    deadline = time.monotonic() + 10
    while service._pending and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert service._pending == 0  # both acknowledged: the poison no longer holds an in-flight slot


async def test_an_uplink_stamped_an_hour_ahead_is_quarantined_with_the_reason(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    await service_factory(settings, f"future-{uuid.uuid4().hex[:6]}")  # type: ignore[operator]
    message = uplink(3, devices=20, base_ns=time.time_ns() + 3600 * 10**9, stream=f"future-{uuid.uuid4()}")
    await asyncio.to_thread(publish, mosquitto.port, [message])
    store = QuarantineStore(settings.registry_url)
    await wait_quarantined(store, 1)
    rows = store.select()
    assert [r.stage for r in rows] == ["time"]
    assert "in the future of its arrival" in rows[0].reason
    assert await asyncio.to_thread(influx_count, influxdb.url, influx_db_name) == 0


async def test_a_dropped_database_is_an_operator_error_spooled_then_written_not_quarantined(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: object,  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    client_id = f"dropped-{uuid.uuid4().hex[:6]}"
    await service_factory(settings, client_id)  # type: ignore[operator]
    refusals = metrics.INFLUX_REFUSALS.labels("404")._value.get()
    await asyncio.to_thread(httpx.post, f"{influxdb.url}/query", data={"q": f'DROP DATABASE "{influx_db_name}"'})
    stream = f"dropped-{uuid.uuid4()}"
    messages = [uplink(i, devices=20, base_ns=time.time_ns() - 600 * 10**9, stream=stream) for i in range(30)]
    await asyncio.to_thread(publish, mosquitto.port, messages)
    spool = tmp_path / "spool" / client_id
    deadline = time.monotonic() + WAIT
    while not list(spool.glob("*.lp")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert list(spool.glob("*.lp")), "nothing was spooled"
    assert metrics.INFLUX_REFUSALS.labels("404")._value.get() > refusals
    assert QuarantineStore(settings.registry_url).count() == 0  # the data is fine: nothing quarantined
    create_database(influxdb.url, influx_db_name)  # the operator fixes it
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 30) == 30
    assert QuarantineStore(settings.registry_url).count() == 0


async def test_a_spooled_line_refused_for_good_is_written_by_quarantine_replay_after_the_fix(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    store = QuarantineStore(settings.registry_url)
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        await influx.create_database()
        await influx.write('humidity,dev_eui=X value="text" 1700000000000000000')  # a string field: conflict
        spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
        spool.append(b"humidity,dev_eui=Y value=55.5 1700000001000000000\ntemperature,dev_eui=Y value=20.5 "
                     b"1700000001000000000")

        async def keep(rejections: list) -> None:  # type: ignore[type-arg]
            await asyncio.to_thread(store.add_many, rejections)

        drain = SpoolDrain(influx, spool, Quarantine(keep), max_backoff=0.1)
        task = asyncio.create_task(drain.run())
        deadline = time.monotonic() + WAIT
        while len(spool) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        task.cancel()
        spool.close()
        rows = store.select()
        assert [(r.topic, r.stage) for r in rows] == [("spool", "write")]
        await influx.query('DROP MEASUREMENT "humidity"')  # the operator removes the conflicting series
    report = await replay(settings, store.select(), store=store)
    assert report.replayed == [rows[0].id]
    assert report.points == 1
    assert store.count() == 0
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        series = await influx.query('SELECT "value" FROM "humidity"')
    assert [row[1] for s in series for row in s["values"]] == [55.5]


async def test_a_writer_that_dies_on_a_full_disk_takes_the_service_down_with_the_reason(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)

    def full(self: Spool, body: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Spool, "append", full)
    service = IngestService(settings, IngestOptions(client_id=f"full-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    await asyncio.to_thread(httpx.post, f"{influxdb.url}/query", data={"q": f'DROP DATABASE "{influx_db_name}"'})
    message = uplink(1, devices=20, base_ns=time.time_ns() - 60 * 10**9, stream=f"full-{uuid.uuid4()}")
    await asyncio.to_thread(publish, mosquitto.port, [message])
    done, _ = await asyncio.wait([task], timeout=WAIT)
    if not done:
        service.stop()
        pytest.fail("the service kept running with a dead writer")
    with pytest.raises(IngestFailed, match=r"writer task died: OSError: .*No space left on device") as failure:
        task.result()
    assert failure.value.exit_code != 0


def test_a_second_process_on_the_same_spool_refuses_to_start(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    client_id = f"locked-{uuid.uuid4().hex[:6]}"
    first = ingest_process(settings, "--client-id", client_id)
    processes.append(first)
    wait_subscribed(mosquitto, client_id)
    second = ingest_process(settings, "--client-id", client_id)
    processes.append(second)
    assert second.wait(timeout=60) != 0
    logs = "".join(p.read_text(errors="replace") for p in tmp_path.glob("ingest-*.log"))
    assert "is in use by another ingest process" in logs
    assert first.poll() is None  # the first keeps running
