"""Quarantined messages can be replayed after a fix; those that fail again stay with the new reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.registry import DeviceRegistry
from devtools.loadgen import MODEL, device_eui, uplink
from devtools.localstack import InfluxServer
from ingest.quarantine import QuarantineStore
from ingest.records import Message, Rejection
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
    now = 1_764_000_000_000_000_000
    store.add_many([
        Rejection(Message(topic, payload, now), "device", f"unknown device {device_eui(3)}", device_eui(3)),
        Rejection(Message("v3/app/devices/x/up", b"{not json", now), "envelope", "payload is not valid JSON"),
    ])
    unknown_id, garbage_id = (row.id for row in store.select())

    first = await replay(settings, store.select(), store=store)
    assert first.replayed == []
    assert set(first.failed) == {unknown_id, garbage_id}
    assert "unknown device" in first.failed[unknown_id]

    DeviceRegistry(settings.registry_url).upsert(device_eui(3), model=MODEL, name="s3", site="Markt",
                                                 municipality="Musterstadt")
    second = await replay(settings, store.select(stage="device"), store=store)
    assert second.replayed == [unknown_id]
    assert second.points == 3
    assert [row.id for row in store.select()] == [garbage_id]  # still pending, with its reason
    assert "not valid JSON" in (store.get(garbage_id) or pytest.fail("row gone")).reason
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        series = await influx.query('SELECT "value" FROM "temperature"')
    assert [row[1] for s in series for row in s["values"]] == [15.3]



async def test_replay_stores_two_quarantined_copies_of_one_uplink_once(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    store = QuarantineStore(settings.registry_url)
    topic, payload = uplink(4, devices=10, base_ns=1_700_000_000_000_000_000, stream="copies")
    reason = f"unknown device {device_eui(4)}"
    gateway_copy = payload.replace(b'"snr":7.5', b'"snr":6.25')  # the same uplink through another gateway
    assert gateway_copy != payload
    store.add_many([Rejection(Message(topic, body, 1_764_000_000_000_000_000), "device", reason)
                    for body in (payload, payload, gateway_copy)])
    rows = store.select()
    assert sorted(r.count for r in rows) == [1, 2]  # the identical two are one row
    DeviceRegistry(settings.registry_url).upsert(device_eui(4), model=MODEL, name="s4", site="Markt",
                                                 municipality="Musterstadt")
    report = await replay(settings, rows, store=store)
    assert len(report.replayed) == 2
    assert report.points == 3
    assert store.count() == 0


async def test_replay_keeps_messages_influxdb_refuses_in_quarantine_with_the_reason(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    async with InfluxClient(influxdb.url, influx_db_name) as influx:
        await influx.create_database()
        # f_cnt is a string in this shard now: the replayed uplinks' float f_cnt conflicts
        await influx.write('uplink,dev_eui=x f_cnt="text" 1700000000000000000')
    store = QuarantineStore(settings.registry_url)
    rows = [uplink(i, devices=10, base_ns=1_700_000_000_000_000_000, stream="conflict") for i in range(3)]
    store.add_many([Rejection(Message(t, p, 1_764_000_000_000_000_000), "device", "unknown") for t, p in rows])
    registry = DeviceRegistry(settings.registry_url)
    for i in range(3):
        registry.upsert(device_eui(i), model=MODEL, name=f"s{i}", site="Markt", municipality="Musterstadt")
    report = await replay(settings, store.select(), store=store)
    assert report.replayed == []  # every uplink line conflicts; each message is found and kept
    assert len(report.failed) == 3
    assert all("conflict" in r for r in report.failed.values())
    assert {row.stage for row in store.select()} == {"write"}
