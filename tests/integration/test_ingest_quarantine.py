"""Quarantined messages can be replayed after a fix; those that fail again stay with the new reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, device_eui, uplink
from devtools.localstack import InfluxServer
from ingest.quarantine import QuarantineStore, Rejection
from ingest.replay import replay
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, Settings

pytestmark = pytest.mark.integration


async def test_replay_after_registering_the_device_writes_the_uplink(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    store = QuarantineStore(settings.registry_url)
    topic, payload = uplink(3, devices=10, base_ns=1_700_000_000_000_000_000, stream="replay")
    store.add_many([
        Rejection(topic, payload, "device", f"unknown device {device_eui(3)}", device_eui(3)),
        Rejection("v3/app/devices/x/up", b"{not json", "envelope", "payload is not valid JSON"),
    ])
    unknown_id, garbage_id = (row.id for row in store.select())

    first = await replay(settings, store.select(), store=store)
    assert first.replayed == [] and set(first.failed) == {unknown_id, garbage_id}
    assert "unknown device" in first.failed[unknown_id]

    DeviceRegistry(settings.registry_url).upsert(device_eui(3), model=MODEL, name="s3", site="Markt",
                                                 municipality="Musterstadt")
    second = await replay(settings, store.select(stage="device"), store=store)
    assert second.replayed == [unknown_id] and second.points == 3
    assert [row.id for row in store.select()] == [garbage_id]  # still pending, with its reason
    assert "not valid JSON" in (store.get(garbage_id) or pytest.fail("row gone")).reason
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        series = await influx.query('SELECT "value" FROM "temperature"')
    assert [row[1] for s in series for row in s["values"]] == [15.3]
