"""Raw payloads in the radio record, against the real broker and InfluxDB: what a codec fix is replayed over."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.loadgen import lpp_payload, uplink
from devtools.localstack import InfluxServer, MosquittoServer
from stadtpuls.settings import IngestSettings
from tests.integration.support import publish
from tests.integration.test_ingest_delivery import (
    make_settings,
    service_factory,  # noqa: F401 - a fixture
    wait_for_count,
)

pytestmark = pytest.mark.integration


async def test_each_uplinks_payload_is_in_its_radio_record_when_kept(
    mosquitto: MosquittoServer, influxdb: InfluxServer, influx_db_name: str, tmp_path: Path,
    service_factory: Any,  # noqa: F811
) -> None:
    settings = make_settings(mosquitto, influxdb, influx_db_name, tmp_path)
    settings = settings.model_copy(update={"ingest": IngestSettings(batch_interval=0.05, keep_raw_payload=True)})
    await service_factory(settings, f"raw-{uuid.uuid4().hex[:6]}")
    base = time.time_ns() - 600 * 10**9
    messages = [uplink(i, devices=20, base_ns=base, stream=f"raw-{uuid.uuid4()}") for i in range(5)]
    await asyncio.to_thread(publish, mosquitto.port, messages)
    assert await asyncio.to_thread(wait_for_count, influxdb.url, influx_db_name, 5) == 5
    response = await asyncio.to_thread(
        httpx.get, f"{influxdb.url}/query",
        params={"db": influx_db_name, "q": 'SELECT "payload", "f_port" FROM "uplink"', "epoch": "ns"},
    )
    rows = [row for s in response.json()["results"][0]["series"] for row in s["values"]]
    assert sorted(base64.b64decode(payload) for _, payload, _ in rows) == sorted(lpp_payload(i) for i in range(5))
    assert {f_port for _, _, f_port in rows} == {1}
