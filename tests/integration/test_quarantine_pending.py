"""A failing quarantine store never blocks valid data, against the real broker, InfluxDB and a PostgreSQL of the
test's own: PostgreSQL down during a quarantine burst, and a record PostgreSQL refuses (a NUL character).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, device_eui, uplink
from devtools.localstack import InfluxServer, MosquittoServer
from ingest import pipeline as pipeline_module
from ingest.quarantine import QuarantineStore
from ingest.service import IngestService
from stadtpuls.db import open_database
from stadtpuls.settings import InfluxSettings, IngestSettings, MqttSettings, RegistrySettings, Settings
from tests.integration.postgres import PostgresServer
from tests.integration.support import publish
from tests.integration.test_ingest_delivery import (
    influx_count,
    service_factory,  # noqa: F401 - a fixture
    wait_for_count,
)

pytestmark = pytest.mark.integration

DEVICES = 10
WAIT = 60.0


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except (FileNotFoundError, OSError) as exc:
        pytest.skip(f"cannot make a PostgreSQL server here: {exc}")
    try:
        server.start()
        yield server
        if (server.data / "postmaster.pid").exists():  # close the pooled connections before the server goes
            open_database(server.url).kw["bind"].dispose()
    finally:
        open_database.cache_clear()
        server.close()


def pg_settings(broker: MosquittoServer, influx: InfluxServer, db: str, data_dir: Path, url: str) -> Settings:
    settings = Settings(
        mqtt=MqttSettings(url=broker.url),
        influx=InfluxSettings(url=influx.url, db=db),
        registry=RegistrySettings(database_url=url),
        ingest=IngestSettings(batch_interval=0.05),
        data_dir=data_dir,
    )
    registry = DeviceRegistry(settings.registry_url)
    for i in range(DEVICES):
        registry.upsert(device_eui(i), model=MODEL, name=f"s{i}", site="Markt", municipality="Musterstadt")
    return settings


async def wait_rows(store: QuarantineStore, rows: int) -> int:
    deadline = time.monotonic() + WAIT
    count = -1
    while time.monotonic() < deadline:
        try:
            count = await asyncio.to_thread(store.count)
        except Exception:  # noqa: BLE001 - the server is still starting
            count = -1
        if count >= rows:
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(0.5)  # a second copy of anything would show up now
    return await asyncio.to_thread(store.count)


async def wait_acknowledged(service: IngestService) -> int:
    deadline = time.monotonic() + WAIT
    while service._pending and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return service._pending


async def test_postgres_down_during_a_quarantine_burst_stores_every_valid_uplink_and_later_every_rejection_once(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    postgres: PostgresServer, service_factory: Any,  # noqa: F811
) -> None:
    settings = pg_settings(mosquitto, influxdb, influx_db_name, tmp_path, postgres.url)
    client_id = f"pgdown-{uuid.uuid4().hex[:6]}"
    service: IngestService = await service_factory(settings, client_id)
    await asyncio.to_thread(postgres.stop)

    base = time.time_ns() - 600 * 10**9
    stream = f"pgdown-{uuid.uuid4()}"
    valid = [uplink(i, devices=DEVICES, base_ns=base, stream=stream) for i in range(40)]
    unknown = [uplink(i, devices=DEVICES, base_ns=base, stream=stream + "-unknown") for i in range(40)]
    unknown = [(t.replace(device_eui(i % DEVICES).lower(), f"b1{i:014x}"),
                p.replace(device_eui(i % DEVICES).lower().encode(), f"b1{i:014x}".encode()))
               for i, (t, p) in enumerate(unknown)][:20]
    garbage = [(f"v3/app/devices/broken-{i}/up", b"{not json " + str(i).encode()) for i in range(5)]
    burst = []  # valid and rejected messages mixed
    for i, message in enumerate(valid):
        burst += [message, *unknown[i : i + 1], *garbage[i : i + 1]]
    await asyncio.to_thread(publish, mosquitto.port, burst)

    # with the database down, every valid uplink is stored and every message acknowledged
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 40) == 40
    assert await wait_acknowledged(service) == 0
    pending = tmp_path / "quarantine-pending" / client_id
    assert list(pending.glob("*.jsonl")), "the rejections do not wait in the local folder"

    await asyncio.to_thread(postgres.start)
    store = QuarantineStore(settings.registry_url)
    rejected = {payload for _, payload in unknown} | {payload for _, payload in garbage}
    assert await wait_rows(store, len(rejected)) == len(rejected)
    rows = await asyncio.to_thread(store.select)
    assert {bytes(r.payload) for r in rows} == rejected
    assert sorted({r.stage for r in rows}) == ["device", "envelope"]
    assert all(r.count == 1 for r in rows)  # none twice
    deadline = time.monotonic() + WAIT
    while list(pending.glob("*.jsonl")) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert not list(pending.glob("*.jsonl"))
    assert await asyncio.to_thread(influx_count, influxdb.url, influx_db_name) == 40


def _nul_codec(real: Any) -> Any:
    """The catalog's codec, except that on fPort 99 it reports an error whose text holds a NUL character."""

    def codec_for(model: Any) -> Any:
        codec = real(model)

        class WithNul:
            def decode(self, f_port: int, payload: bytes) -> Any:
                if f_port == 99:
                    return {"data": {}, "warnings": [], "errors": ["unexpected byte \x00 at offset 0"]}
                return codec.decode(f_port, payload)

        return WithNul()

    return codec_for


async def test_a_codec_error_with_a_nul_character_is_stored_and_valid_data_flows(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    postgres: PostgresServer, service_factory: Any, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    monkeypatch.setattr(pipeline_module, "codec_for", _nul_codec(pipeline_module.codec_for))
    settings = pg_settings(mosquitto, influxdb, influx_db_name, tmp_path, postgres.url)
    service: IngestService = await service_factory(settings, f"nul-{uuid.uuid4().hex[:6]}")
    base = time.time_ns() - 600 * 10**9
    stream = f"nul-{uuid.uuid4()}"
    topic, body = uplink(0, devices=DEVICES, base_ns=base, stream=stream + "-nul")
    doc = orjson.loads(body)
    doc["fPort"] = 99
    messages = [(topic, orjson.dumps(doc))] + [uplink(i, devices=DEVICES, base_ns=base, stream=stream)
                                               for i in range(1, 11)]
    await asyncio.to_thread(publish, mosquitto.port, messages)
    # the radio records of all 11 uplinks (the refused one's too) are written, and everything acknowledged
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 11) == 11
    assert await wait_acknowledged(service) == 0
    store = QuarantineStore(settings.registry_url)
    assert await wait_rows(store, 1) == 1
    [row] = await asyncio.to_thread(store.select)
    assert row.stage == "codec"
    assert "unexpected byte \\x00 at offset 0" in row.reason
