"""Fixtures for integration tests: settings pointing at the fixture servers, a running ingest service."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devices.registry import DeviceRegistry
from devtools.localstack import InfluxServer, MosquittoServer
from ingest.service import IngestOptions, IngestService
from stadtpuls.settings import InfluxSettings, IngestSettings, MqttSettings, Settings

TTS_EUI = "70B3D5E75E000001"
CS_EUI = "0101010101010101"


@pytest.fixture
def settings(mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path) -> Settings:
    return Settings(
        mqtt=MqttSettings(url=mosquitto.url),
        influx=InfluxSettings(url=influxdb.url, db=influx_db_name),
        ingest=IngestSettings(batch_interval=0.05),
        data_dir=tmp_path,
    )


@pytest.fixture
async def running_ingest(settings: Settings) -> AsyncIterator[IngestService]:
    registry = DeviceRegistry(settings.registry_url)
    registry.upsert(TTS_EUI, model="cayenne-lpp", name="Rathaus Klima", site="Rathaus", municipality="Musterstadt")
    registry.upsert(CS_EUI, model="cayenne-lpp", name="Bahnhof Wetter", site="Bahnhof", municipality="Nachbarort")
    service = IngestService(settings, IngestOptions(client_id=f"test-ingest-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    yield service
    service.stop()
    await asyncio.wait_for(task, timeout=30)
