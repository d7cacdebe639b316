"""The simulator against real servers: a short backfill through ingest into InfluxDB, and live mode on MQTT."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import date, datetime
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devtools.localstack import InfluxServer, MosquittoServer
from firmware_sim.backfill import run_backfill
from firmware_sim.live import run_live
from ingest.envelopes import parse_envelope
from ingest.quarantine import QuarantineStore
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings
from tests.unit.test_firmware_sim_support import SMALL_TOWN

pytestmark = pytest.mark.integration
DAY = date(2025, 3, 8)


def _town(tmp_path: Path) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_TOWN, encoding="utf-8")
    return path


async def _count(settings: Settings, query: str) -> int:
    async with InfluxClient.from_settings(settings.influx) as influx:
        series = await influx.query(query)
    return int(series[0]["values"][0][1]) if series else 0


async def test_a_day_of_a_small_town_lands_in_influxdb(tmp_path: Path, influxdb: InfluxServer,
                                                        influx_db_name: str) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    spec = tmp_path / "faults.yaml"
    spec.write_text("faults:\n"
                    "  - {kind: garbled_payload, device: c-vs133, start: '2025-03-08T09:00', duration: 2h}\n"
                    "  - {kind: unknown_device, device: a-pm, start: '2025-03-08T12:00', duration: 1h}\n")
    truth = tmp_path / "truth.json"
    result = await asyncio.to_thread(run_backfill, settings, town=_town(tmp_path), days=1, start=DAY, seed=3,
                                     faults=spec, ground_truth_path=truth, workers=2)
    assert result.uplinks > 1000
    stored = await _count(settings, 'SELECT count("f_cnt") FROM "uplink"')
    assert stored == result.uplinks
    occupied = await _count(settings, 'SELECT count("value") FROM "occupied"')
    assert occupied > 300  # 48 bays: status changes, heartbeats, startups
    assert result.uplinks == result.messages - result.radio.duplicates - result.radio.ghost
    assert result.rejected == {"codec": 12, "device": 6}
    assert QuarantineStore(settings.registry_url).count() == 18
    kinds = [f["kind"] for f in json.loads(truth.read_text(encoding="utf-8"))["faults"]]
    assert kinds == ["garbled_payload", "unknown_device"]


async def test_live_mode_publishes_what_it_counts(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    settings = Settings(mqtt=MqttSettings(url=mosquitto.url), data_dir=tmp_path)
    received: list[tuple[str, bytes]] = []
    subscribed = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{uuid.uuid4().hex[:6]}")
    client.on_connect = lambda c, *_: c.subscribe([("v3/#", 0), ("application/#", 0)])
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: received.append((msg.topic, bytes(msg.payload)))
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        assert subscribed.wait(10)
        start = datetime(2025, 3, 8, 10, 0).astimezone()
        result = await run_live(settings, town=_town(tmp_path), speed=20_000, duration=2.0, start=start,
                                register=True, client_id=f"sim-{uuid.uuid4().hex[:6]}")
        for _ in range(100):
            if len(received) >= result.published:
                break
            await asyncio.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    assert result.published > 100
    assert len(received) == result.published
    first = parse_envelope(*received[0], arrival_ns=0)
    assert first.received_ns >= int(start.timestamp() * 1e9)
