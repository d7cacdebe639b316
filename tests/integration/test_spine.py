"""The spine end to end: envelopes → Mosquitto → ingest → InfluxDB → API, against real servers."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore, Role
from devtools.localstack import MosquittoServer
from ingest.quarantine import QuarantineStore
from ingest.service import IngestService
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings
from tests.integration.conftest import CS_EUI, TTS_EUI
from tests.integration.support import publish, wait_for_rows

pytestmark = pytest.mark.integration

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelopes"


def envelope(name: str, lpp_hex: str) -> tuple[str, dict[str, Any]]:
    doc = json.loads((VECTORS / f"{name}.json").read_text())
    payload = doc["payload"]
    raw = base64.b64encode(bytes.fromhex(lpp_hex)).decode()
    if "uplink_message" in payload:
        payload["uplink_message"]["frm_payload"] = raw
        payload["uplink_message"].pop("decoded_payload", None)
    else:
        payload["data"] = raw
    return doc["topic"], payload


async def test_tts_and_chirpstack_uplinks_reach_influx_and_api(
    running_ingest: IngestService, settings: Settings, mosquitto: MosquittoServer
) -> None:
    tts_topic, tts = envelope("ttn-v3-up", "03670110056700FF")  # temperature_3 27.2, temperature_5 25.5
    cs_topic, cs = envelope("chirpstack-v4-up", "007327BF006700DE")  # pressure 1017.5, temperature_0 22.2
    await asyncio.to_thread(
        publish, mosquitto.port, [(tts_topic, json.dumps(tts).encode()), (cs_topic, json.dumps(cs).encode())]
    )
    async with InfluxClient.from_settings(settings.influx) as influx:
        rows = await wait_for_rows(
            influx, 'SELECT "value", "dev_eui", "channel", "municipality", "site" FROM "temperature"', 3
        )
        pressure = await wait_for_rows(influx, 'SELECT "value", "dev_eui" FROM "pressure"', 1)
    got = sorted((r[2], r[3], r[1]) for r in rows)
    assert got == [(CS_EUI, "0", 22.2), (TTS_EUI, "3", 27.2), (TTS_EUI, "5", 25.5)]
    tts_row = next(r for r in rows if r[3] == "3")
    assert tts_row[0] == 1714817702100000000  # the network server's uplink_message.received_at
    assert (tts_row[4], tts_row[5]) == ("Musterstadt", "Rathaus")
    assert [(r[1], r[2]) for r in pressure] == [(1017.5, CS_EUI)]

    key = {"X-API-Key": KeyStore(settings.registry_url).create(Role.ADMIN, name="spine")[1]}
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api", headers=key) as api,
    ):
        body = (await api.get(f"/v1/devices/{CS_EUI}/latest")).json()
        listed = (await api.get("/v1/devices", params={"municipality": "Nachbarort"})).json()
        missing = await api.get("/v1/devices/FFFFFFFFFFFFFFFF/latest")
    values = {(v["quantity"], v["channel"]): v for v in body["values"]}
    assert values[("pressure", "0")]["value"] == 1017.5
    assert values[("pressure", "0")]["unit"] == "hPa"
    assert values[("temperature", "0")]["value"] == 22.2
    assert values[("temperature", "0")]["time"].startswith("2022-07-18T09:34:15.775")
    assert body["last_uplink"]["rssi"] == -36
    assert listed["count"] == 1
    assert listed["data"][0]["dev_eui"] == CS_EUI
    assert missing.status_code == 404


async def test_bad_input_is_quarantined_and_ingest_keeps_running(
    running_ingest: IngestService, settings: Settings, mosquitto: MosquittoServer
) -> None:
    unknown_topic, unknown = envelope("chirpstack-v4-up", "03670110")
    unknown["deviceInfo"]["devEui"] = "AAAAAAAAAAAAAAAA"
    unknown["deduplicationId"] = str(uuid.uuid4())
    garbled_topic, garbled = envelope("ttn-v3-up", "03FF01")  # unknown LPP type 255
    messages = [
        ("v3/app/devices/x/up", b"\x00\xffnot json"),
        (unknown_topic.replace(CS_EUI, "AAAAAAAAAAAAAAAA"), json.dumps(unknown).encode()),
        (garbled_topic, json.dumps(garbled).encode()),
        ("v3/app/devices/x/up", json.dumps({"payload_raw": "AQ==", "dev_id": "x"}).encode()),
    ]
    await asyncio.to_thread(publish, mosquitto.port, messages)
    store = QuarantineStore(settings.registry_url)
    deadline = time.monotonic() + 20
    while store.count() < 4 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    reasons = {r.stage: r.reason for r in store.list()}
    assert set(reasons) == {"envelope", "device", "codec"}
    assert "AAAAAAAAAAAAAAAA" in reasons["device"]
    assert "unknown Cayenne LPP type 255" in reasons["codec"]
    assert any("TTN v2" in r.reason for r in store.list(stage="envelope"))
    assert running_ingest.received == 4

    # and a good uplink right after still flows
    topic, good = envelope("chirpstack-v4-up", "0067FFEC")  # -2.0 °C
    good["deduplicationId"] = str(uuid.uuid4())
    await asyncio.to_thread(publish, mosquitto.port, [(topic, json.dumps(good).encode())])
    async with InfluxClient.from_settings(settings.influx) as influx:
        rows = await wait_for_rows(influx, 'SELECT "value" FROM "temperature"', 1)
    assert [r[1] for r in rows] == [-2.0]


async def test_simulated_town_reaches_the_api(
    running_ingest: IngestService, settings: Settings, tmp_path: Path
) -> None:
    """Simulator (live) → Mosquitto → ingest → InfluxDB → API returns the values."""
    from datetime import datetime

    from firmware_sim.live import run_live
    from firmware_sim.town import load_town, register_town
    from tests.unit.test_firmware_sim_support import SMALL_TOWN

    town = tmp_path / "small.yaml"
    town.write_text(SMALL_TOWN, encoding="utf-8")
    register_town(load_town(town), settings.registry_url)
    await asyncio.to_thread(running_ingest.directory.load)  # ingest learns the town's devices
    result = await run_live(
        settings,
        town=town,
        speed=2_000,
        duration=2.0,
        start=datetime(2025, 3, 8, 10, 0).astimezone(),
        fmt="mixed",
        qos=1,
        register=False,
        client_id=f"sim-{uuid.uuid4().hex[:6]}",
    )
    assert result.published > 0
    async with InfluxClient.from_settings(settings.influx) as influx:
        rows = await wait_for_rows(influx, 'SELECT "f_cnt", "dev_eui" FROM "uplink"', 1)
    assert rows
    dev_eui = rows[-1][2]
    key = {"X-API-Key": KeyStore(settings.registry_url).create(Role.ADMIN, name="spine")[1]}
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api", headers=key) as api,
    ):
        body = (await api.get(f"/v1/devices/{dev_eui}/latest")).json()
    assert body["device"]["dev_eui"] == dev_eui
    assert body["values"], body
    assert body["last_uplink"]["time"].startswith("2025-03-08")
