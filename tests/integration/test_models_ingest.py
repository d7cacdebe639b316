"""Uplinks of every catalog model flow through MQTT and ingest into InfluxDB as canonical quantities."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from devices.catalog import catalog
from ingest.normalise import Normaliser
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings
from tests.integration.support import publish, wait_for_rows

pytestmark = pytest.mark.integration

TESTS = Path(__file__).resolve().parents[1]
TTS = json.loads((TESTS / "vectors" / "envelopes" / "ttn-v3-up.json").read_text())
CS = json.loads((TESTS / "vectors" / "envelopes" / "chirpstack-v4-up.json").read_text())


def vectors(model: str) -> list[dict[str, Any]]:
    examples = yaml.safe_load((TESTS / "vectors" / f"{model}.yaml").read_text())
    return [e for e in examples if "data" in e["output"] and e["output"]["data"]]


def envelope(dev_eui: str, f_port: int, raw: bytes, f_cnt: int, chirpstack: bool) -> tuple[str, bytes]:
    time = f"2026-01-05T10:{f_cnt // 60:02d}:{f_cnt % 60:02d}.000000001Z"
    data = base64.b64encode(raw).decode()
    if chirpstack:
        doc = copy.deepcopy(CS["payload"])
        doc.update(deduplicationId=str(uuid.uuid4()), time=time, fPort=f_port, fCnt=f_cnt, data=data)
        doc["deviceInfo"]["devEui"] = dev_eui
        return f"application/app/device/{dev_eui}/event/up", json.dumps(doc).encode()
    doc = copy.deepcopy(TTS["payload"])
    doc["end_device_ids"]["dev_eui"] = dev_eui
    msg = doc["uplink_message"]
    msg.update(f_port=f_port, f_cnt=f_cnt, frm_payload=data, received_at=time)
    msg.pop("decoded_payload")
    return f"v3/app/devices/{dev_eui.lower()}/up", json.dumps(doc).encode()


async def test_every_model_lands_as_canonical_quantities(
    running_ingest: Any, settings: Settings, mosquitto: Any
) -> None:
    messages: list[tuple[str, bytes]] = []
    expected: dict[tuple[str, str, str, int], float] = {}  # (quantity, dev_eui, channel, time) → value
    for index, entry in enumerate(catalog().values()):
        dev_eui = f"A0000000000000{index:02X}"
        running_ingest.registry.upsert(
            dev_eui, model=entry.model, name=entry.name, site="Testfeld", municipality="Musterstadt"
        )
        normaliser = Normaliser(entry)
        for f_cnt, example in enumerate(vectors(entry.model), start=1):
            raw = bytes.fromhex(example["input"]["hex"])
            topic, body = envelope(dev_eui, example["input"]["fPort"], raw, f_cnt, chirpstack=f_cnt % 2 == 0)
            messages.append((topic, body))
            ts = 1767607200_000000001 + ((f_cnt // 60) * 60 + f_cnt % 60) * 1_000_000_000
            for m in normaliser.normalise(example["output"]["data"]).measurements:
                expected[(m.quantity, dev_eui, m.channel, ts)] = m.value
    await asyncio.to_thread(running_ingest.directory.load)
    running_ingest.pipeline.forget()
    await asyncio.to_thread(publish, mosquitto.port, messages)

    async with InfluxClient.from_settings(settings.influx) as influx:
        await wait_for_rows(influx, 'SELECT "f_cnt" FROM "uplink"', len(messages), timeout=30)
        quantities = sorted({q for q, *_ in expected})
        got: dict[tuple[str, str, str, int], float] = {}
        for quantity in quantities:
            series = await influx.query(f'SELECT "value", "dev_eui", "channel" FROM "{quantity}"')
            for s in series:
                for time, value, dev_eui, channel in s["values"]:
                    got[(quantity, dev_eui, channel or "", time)] = value
    models_seen = {k[1] for k in got}
    assert len(models_seen) == len(catalog())
    assert got == pytest.approx(expected)
