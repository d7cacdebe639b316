"""The detection job against a real InfluxDB: planted faults and a simulated town's labelled faults become events."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from devices.registry import DeviceRegistry
from firmware_sim.backfill import run_backfill
from processing.airquality import PmMean, load_bands
from processing.anomaly_job import detect_with
from processing.engine import Options
from processing.events import EventStore, StoredEvent
from processing.service import ProcessingService
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line
from stadtpuls.settings import Settings
from tests.unit.test_firmware_sim_support import SMALL_TOWN

pytestmark = pytest.mark.integration

H = 3600.0
DAY = 86400.0
T0 = 1_748_736_000.0  # 2025-06-01 00:00 UTC
DAYS = 10
STUCK = (T0 + 8 * DAY + 2 * H, T0 + 8 * DAY + 14 * H)  # PM2.5 frozen for 12 h
OFFLINE = (T0 + 7 * DAY + 5 * H, T0 + 7 * DAY + 11 * H)  # CO2 sensor silent for 6 h
AIR = "70B3D57BA0000001"
CO2 = "A81758FFFE000001"
QUIET = "A81758FFFE000002"
# a site name that needs quoting in InfluxQL and escaping in line protocol
SITE = "Markt, 'Süd' = \"Platz\""


def lines(dev_eui: str, model: str, quantity: str, values: np.ndarray, times: np.ndarray) -> list[str]:
    tags = {"municipality": "Musterstadt", "site": SITE, "class": "air_quality", "model": model, "dev_eui": dev_eui}
    out = []
    for index, (moment, value) in enumerate(zip(times.tolist(), values.tolist(), strict=True)):
        stamp = round(moment * 1e9)
        out.append(line(quantity, tags, {"value": value}, stamp))
        out.append(line("uplink", tags, {"f_cnt": float(index), "rssi": -90.0}, stamp))
    return out


def series(rng: np.random.Generator, level: float, swing: float, noise: float) -> tuple[np.ndarray, np.ndarray]:
    times = T0 + np.arange(0, DAYS * DAY, 600.0) + rng.uniform(0, 5, int(DAYS * DAY / 600))
    daily = level + swing * np.sin(2 * np.pi * (times - T0) / DAY)
    return times, np.round(daily + rng.normal(0, noise, times.size), 1)


def plant(settings: Settings) -> list[str]:
    """Register the three devices and return their readings: a stuck PM2.5 and an outage of the CO2 sensor."""
    registry = DeviceRegistry(settings.registry_url)
    registry.upsert(AIR, model="decentlab-dl-pm", name="Luft Markt", site=SITE, municipality="Musterstadt")
    registry.upsert(CO2, model="elsys-ers-co2", name="Klima Rathaus", site=SITE, municipality="Musterstadt")
    registry.upsert(QUIET, model="elsys-ers-co2", name="Klima Schule", site=SITE, municipality="Musterstadt")
    rng = np.random.default_rng(7)
    air_times, pm = series(rng, 12.0, 4.0, 1.0)
    pm[(air_times >= STUCK[0]) & (air_times < STUCK[1])] = 12.3
    co2_times, co2 = series(rng, 600.0, 150.0, 20.0)
    heard = (co2_times < OFFLINE[0]) | (co2_times >= OFFLINE[1])
    quiet_times, quiet = series(rng, 500.0, 100.0, 20.0)
    body = (
        lines(AIR, "decentlab-dl-pm", "pm2_5", pm, air_times)
        + lines(CO2, "elsys-ers-co2", "co2", co2[heard], co2_times[heard])
        + lines(QUIET, "elsys-ers-co2", "co2", quiet, quiet_times)
    )
    return body


async def test_the_processing_service_keeps_the_events(settings: Settings) -> None:
    async with InfluxClient.from_settings(settings.influx) as client:
        await client.write("\n".join(plant(settings)))
    service = ProcessingService(settings, Options(load_bands("2024"), PmMean("1h")))
    first = await service.detect_anomalies(now=T0 + DAYS * DAY)  # the first run looks at the last day only
    assert first.errors == []
    assert first.devices == 3
    assert EventStore(settings.registry_url).list() == []  # both faults lie before it
    service._examined_until = T0 + 7 * DAY  # as if the last run had been three days ago
    again = await service.detect_anomalies(now=T0 + DAYS * DAY)
    assert again.errors == []
    kinds = {(e.dev_eui, e.quantity, e.kind) for e in EventStore(settings.registry_url).list()}
    assert kinds == {(AIR, "pm2_5", "stuck"), (CO2, "", "gap")}


async def test_stuck_value_and_offline_device_become_events(settings: Settings) -> None:
    body = plant(settings)
    rng = np.random.default_rng(7)
    air_times, pm = series(rng, 12.0, 4.0, 1.0)
    pm[(air_times >= STUCK[0]) & (air_times < STUCK[1])] = 12.3
    series(rng, 600.0, 150.0, 20.0)  # the CO2 sensor's readings: drawn again to keep the random stream
    _, quiet = series(rng, 500.0, 100.0, 20.0)
    store = EventStore(settings.registry_url)
    async with InfluxClient.from_settings(settings.influx) as client:
        await client.write("\n".join(body))
        # the last three days, with the history before them read by the job itself
        report = await detect_with(client, settings, start=T0 + 7 * DAY, end=T0 + DAYS * DAY, store=store)
        assert report.errors == []
        assert report.devices == 3
        assert report.series == 3
        events = {(e.dev_eui, e.quantity, e.kind): e for e in store.list()}
        assert set(events) == {(AIR, "pm2_5", "stuck"), (CO2, "", "gap")}
        stuck = events[(AIR, "pm2_5", "stuck")]
        assert abs(stuck.onset.timestamp() - STUCK[0]) <= 600
        assert abs(stuck.end.timestamp() - STUCK[1]) <= 600
        assert stuck.start.timestamp() > stuck.onset.timestamp()
        assert not stuck.open
        assert "unchanged at 12.3 µg/m³" in stuck.reason
        gap = events[(CO2, "", "gap")]
        assert abs(gap.onset.timestamp() - OFFLINE[0]) <= 600
        assert abs(gap.end.timestamp() - OFFLINE[1]) <= 600
        assert not gap.open
        assert "no reading for 6" in gap.reason
        # examining the same data again, or an overlapping window, raises nothing twice
        again = await detect_with(client, settings, start=T0 + 6 * DAY, end=T0 + DAYS * DAY, store=store)
        assert again.stored.inserted == 0
        assert len(store.list()) == 2
        # the quiet device falls silent at the end of the data: an open gap, closed once it is heard again
        later = await detect_with(client, settings, start=T0 + DAYS * DAY - H, end=T0 + DAYS * DAY + 3 * H,
                                  store=store)
        assert later.stored.inserted == 3  # all three are silent since the data end
        assert {e.dev_eui for e in store.list(open_only=True, kind="gap")} == {AIR, CO2, QUIET}
        tags = {"municipality": "Musterstadt", "site": SITE, "class": "air_quality", "model": "elsys-ers-co2",
                "dev_eui": QUIET}
        resumed = T0 + DAYS * DAY + 3.5 * H
        await client.write(line("uplink", tags, {"f_cnt": float(quiet.size)}, round(resumed * 1e9)))
        closing = await detect_with(client, settings, start=T0 + DAYS * DAY + 3 * H, end=resumed + 60,
                                    store=store)
        assert closing.stored.inserted == 0  # the same three conditions, one of them now ended
        assert {e.dev_eui for e in store.list(open_only=True, kind="gap")} == {AIR, CO2}
        [quiet_gap] = store.list(dev_eui=QUIET, kind="gap")
        assert not quiet_gap.open
        assert quiet_gap.end.timestamp() == pytest.approx(resumed, abs=1)


async def test_faults_of_a_simulated_town_appear_while_the_service_runs(settings: Settings) -> None:
    """`stadtpuls process`'s loop over a simulated small town with labelled faults: each becomes its event."""
    town = settings.data_dir / "small.yaml"
    town.write_text(SMALL_TOWN, encoding="utf-8")
    first = datetime.now(UTC).date() - timedelta(days=4)
    fault_day = (first + timedelta(days=2)).isoformat()
    spec = settings.data_dir / "faults.yaml"
    spec.write_text(
        "faults:\n"
        f"  - {{kind: stuck_value, device: a-pm, start: '{fault_day}T08:00', duration: 12h}}\n"
        f"  - {{kind: offline, device: a-co2, start: '{fault_day}T09:00', duration: 6h}}\n"
        f"  - {{kind: counter_reset, device: c-vs133, start: '{fault_day}T12:00', duration: 1m}}\n",
        encoding="utf-8",
    )
    truth_path = settings.data_dir / "truth.json"
    await asyncio.to_thread(run_backfill, settings, town=town, days=3, start=first, seed=4, faults=spec,
                            ground_truth_path=truth_path, workers=1)
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    expected = {"stuck_value": "stuck", "offline": "gap", "counter_reset": "counter_reset"}
    service = ProcessingService(settings, Options(load_bands("2024"), PmMean("1h")), anomaly_every=0.5)
    service._examined_until = datetime.combine(first, datetime.min.time(), UTC).timestamp()  # since the data began
    store = EventStore(settings.registry_url)

    def found() -> dict[str, list[StoredEvent]]:
        events = store.list()
        return {fault["kind"]: [e for e in events if e.dev_eui == fault["dev_eui"]
                                and e.kind == expected[fault["kind"]]
                                and fault["start_ns"] / 1e9 - DAY <= e.onset.timestamp() <= fault["end_ns"] / 1e9]
                for fault in truth["faults"]}

    running = asyncio.create_task(service.run(interval=0.5))
    try:
        for _ in range(240):  # the loop's passes and detection runs take a few seconds each
            await asyncio.sleep(0.5)
            if all(found().values()):
                break
    finally:
        service.stop()
        await running
    assert {kind: len(events) for kind, events in found().items()} == {k: 1 for k in expected}
    # nothing else is reported on the faulty devices outside their faults (a frozen PM2.5 below PM1.0 is rightly
    # impossible), but the silence since the data's end
    windows = [(f["dev_eui"], f["start_ns"] / 1e9, f["end_ns"] / 1e9) for f in truth["faults"]]
    others = [e for e in store.list() if any(e.dev_eui == w[0] for w in windows)
              and not any(e.dev_eui == eui and begin - DAY <= e.onset.timestamp() <= end for eui, begin, end in windows)
              and not (e.kind == "gap" and e.open)]
    assert [(e.dev_eui, e.quantity, e.kind, e.onset, e.reason) for e in others] == []


COUNTER = "24E124FA00000099"
TOWN_FILE = Path(__file__).resolve().parents[2] / "firmware_sim" / "towns" / "default.yaml"
UNITY_DAY = datetime(2025, 10, 3, tzinfo=ZoneInfo("Europe/Berlin"))  # a Friday, a public holiday everywhere


def counter_lines() -> list[str]:
    """Four weeks of a people counter every 10 minutes, busy in shop hours; on German Unity Day the town's
    shops are shut and a few people pass.
    """
    rng = np.random.default_rng(5)
    berlin = ZoneInfo("Europe/Berlin")
    first = UNITY_DAY - timedelta(days=25)
    times = [first + timedelta(minutes=10 * n) for n in range(28 * 144)]
    tags = {"municipality": "Musterstadt", "site": "Fußgängerzone", "class": "footfall",
            "model": "milesight-vs133", "dev_eui": COUNTER, "channel": "1"}
    out = []
    for moment in times:
        local = moment.astimezone(berlin)
        level = 50.0 if 9 <= local.hour < 19 and local.weekday() < 6 else 2.0
        if local.date() == UNITY_DAY.date():
            level *= 0.03
        out.append(line("people_in", tags, {"value": float(rng.poisson(level))}, round(moment.timestamp() * 1e9)))
    return out


async def test_the_towns_calendar_keeps_a_public_holiday_from_raising_alarms(settings: Settings) -> None:
    """`stadtpuls process` with the town's calendar (STADTPULS_CALENDAR) knows German Unity Day; without it the
    empty street is a counter that stopped counting.
    """
    DeviceRegistry(settings.registry_url).upsert(COUNTER, model="milesight-vs133", name="Zähler Markt",
                                                 site="Fußgängerzone", municipality="Musterstadt")
    start, end = UNITY_DAY.timestamp(), (UNITY_DAY + timedelta(days=1)).timestamp()
    async with InfluxClient.from_settings(settings.influx) as client:
        await client.write("\n".join(counter_lines()))
        bare = EventStore(settings.registry_url)
        report = await detect_with(client, settings, start=start, end=end, store=bare)
        assert report.errors == []
        found = [(e.dev_eui, e.kind) for e in bare.list() if e.onset.timestamp() >= start]
        assert (COUNTER, "stuck") in found or (COUNTER, "seasonal") in found
        with_calendar = settings.model_copy(update={"calendar": TOWN_FILE, "data_dir": settings.data_dir / "c"})
        with_calendar.data_dir.mkdir()
        DeviceRegistry(with_calendar.registry_url).upsert(COUNTER, model="milesight-vs133", name="Zähler Markt",
                                                          site="Fußgängerzone", municipality="Musterstadt")
        store = EventStore(with_calendar.registry_url)
        report = await detect_with(client, with_calendar, start=start, end=end, store=store)
        assert report.errors == []
        assert report.devices == 1
        assert store.list() == []
