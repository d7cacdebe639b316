"""Health and alarms from what real ingest writes to a real InfluxDB: a technician's day, compressed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from devices.alarms import AlarmRules, AlarmStore, check
from devices.codecs import cayenne_lpp, nwave_nps405
from devices.registry import DeviceRegistry
from devtools.localstack import MosquittoServer
from ingest.service import IngestOptions, IngestService
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings
from tests.integration.support import publish, wait_for_rows
from tests.integration.technician import tts_uplink

pytestmark = pytest.mark.integration

TALKS = "70B3D5E75E00A001"  # cayenne-lpp, four uplinks, one frame lost
SILENT = "70B3D5E75E00A002"  # nwave-nps405, installed, never speaks
TIRED = "70B3D5E75E00A003"  # nwave-nps405, low battery, restarts three times
FAR = "70B3D5E75E00A004"  # cayenne-lpp in the partner town, weak signal
RULES = AlarmRules(never_seen_after=timedelta(seconds=0))


@pytest.fixture
async def ingest(settings: Settings) -> AsyncIterator[DeviceRegistry]:
    registry = DeviceRegistry(settings.registry_url)
    for eui, model, town in ((TALKS, "cayenne-lpp", "Musterstadt"), (SILENT, "nwave-nps405", "Musterstadt"),
                             (TIRED, "nwave-nps405", "Musterstadt"), (FAR, "cayenne-lpp", "Nachbarort")):
        registry.upsert(eui, model=model, name=f"dev {eui[-2:]}", site="P1", municipality=town, by="anna")
    service = IngestService(settings, IngestOptions(client_id=f"test-ingest-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    yield registry
    service.stop()
    await asyncio.wait_for(task, timeout=30)


def boot() -> bytes:
    return nwave_nps405.encode(3, {"type": "startup", "firmware_version": "2.4.9", "reset_cause": "power_on",
                                   "occupied": False})


def uplinks(start: datetime) -> list[tuple[str, bytes]]:
    lpp = cayenne_lpp.encode(1, {"temperature_1": 21.5})
    beat = nwave_nps405.encode(2, {"type": "heartbeat", "occupied": True, "hw_health_status": 1, "temperature": 12.0,
                                   "battery_voltage": 3.0, "battery_health": "normal"})
    messages = [
        tts_uplink(TALKS, at=start + timedelta(minutes=i), f_cnt=f, f_port=1, payload=lpp, rssi=[-97, -112],
                   snr=[7.5, -3.0])
        for i, f in enumerate((10, 11, 13, 14))
    ]
    messages += [
        tts_uplink(TIRED, at=start + timedelta(minutes=i), f_cnt=i, f_port=3, payload=boot(), rssi=[-90], snr=[8])
        for i in range(3)
    ]
    messages.append(tts_uplink(TIRED, at=start + timedelta(minutes=4), f_cnt=3, f_port=2, payload=beat,
                               rssi=[-90], snr=[8]))
    messages += [
        tts_uplink(FAR, at=start + timedelta(minutes=i), f_cnt=i, f_port=1, payload=lpp, rssi=[-125], snr=[-17])
        for i in range(3)
    ]
    return messages


async def test_health_and_alarms_of_a_technicians_day(
    ingest: DeviceRegistry, settings: Settings, mosquitto: MosquittoServer
) -> None:
    registry, store = ingest, AlarmStore(settings.registry_url)
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)  # after the registration
    await asyncio.to_thread(publish, mosquitto.port, uplinks(start))
    async with InfluxClient.from_settings(settings.influx) as influx:
        assert len(await wait_for_rows(influx, 'SELECT "f_cnt" FROM "uplink"', 11)) == 11
        await wait_for_rows(influx, 'SELECT "value" FROM "battery_voltage"', 1)
        now = start + timedelta(minutes=10)
        first = await asyncio.to_thread(_check, registry, store, settings, now)
        health = first.health
        talks = health[TALKS]
        assert talks.last_uplink == start + timedelta(minutes=3)
        assert (talks.rssi, talks.snr, talks.gateways) == (-97, 7.5, 2)  # the best gateway's signal
        assert (talks.uplinks_24h, talks.lost_24h, talks.loss_24h) == (4, 1, 0.2)
        assert health[SILENT].last_uplink is None
        assert (health[TIRED].battery, health[TIRED].battery_unit, health[TIRED].restarts_24h) == (3.0, "V", 3)
        assert (health[TIRED].firmware, health[TIRED].reset_cause) == ("2.4.9", "power_on")
        assert (talks.firmware, talks.restarts_24h) == (None, 0)
        assert sorted(first.activated) == sorted([TALKS, TIRED, FAR])
        assert registry.get(TALKS).status == "active"  # type: ignore[union-attr]
        assert registry.history(TALKS)[-1].changed_by == "stadtpuls"
        raised = {(f.dev_eui, f.kind.value) for f in first.sync.raised}
        assert raised == {(SILENT, "never_seen"), (TIRED, "low_battery"), (TIRED, "repeated_resets"),
                          (FAR, "weak_signal")}
        assert {a.dev_eui for a in store.list(municipality="Musterstadt")} == {SILENT, TIRED}
        assert [a.kind for a in store.list(municipality="Nachbarort")] == ["weak_signal"]

        second = await asyncio.to_thread(_check, registry, store, settings, now + timedelta(seconds=30))
        assert (second.sync.raised, second.sync.still_open) == ([], 4)  # raised once

        # the silent one speaks: it becomes active and its alarm clears
        await asyncio.to_thread(publish, mosquitto.port, [
            tts_uplink(SILENT, at=now + timedelta(minutes=1), f_cnt=0, f_port=3, payload=boot(), rssi=[-80], snr=[9])
        ])
        await wait_for_rows(influx, f"SELECT \"f_cnt\" FROM \"uplink\" WHERE \"dev_eui\" = '{SILENT}'", 1)
        third = await asyncio.to_thread(_check, registry, store, settings, now + timedelta(minutes=2))
        assert third.activated == [SILENT]
        assert third.sync.cleared == 1
        assert {a.kind for a in store.list(dev_eui=SILENT)} == set()

        # two hours on, the people counter of fifteen-minute reports is offline
        later = await asyncio.to_thread(_check, registry, store, settings, now + timedelta(hours=2))
        assert (TALKS, "offline") in {(f.dev_eui, f.kind.value) for f in later.sync.raised}
        assert (SILENT, "offline") not in {(f.dev_eui, f.kind.value) for f in later.sync.raised}  # daily heartbeat


def _check(registry: DeviceRegistry, store: AlarmStore, settings: Settings, now: datetime):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with InfluxClient.from_settings(settings.influx) as influx:
            return await check(registry, store, influx, now=now, rules=RULES)

    return asyncio.run(run())
