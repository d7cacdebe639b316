"""What each device model sends decodes back, with its own codec, to the intended values."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from devices.catalog import catalog
from devices.codecs import native_codec
from devices.records import DeviceInfo
from firmware_sim.firmware.air import AIR_FIRMWARE, mass_per_ppb
from firmware_sim.town import load_town
from ingest.normalise import Normaliser
from ingest.pipeline import Pipeline
from tests.unit.test_firmware_sim_support import (
    SATURDAY,
    SMALL_TOWN,
    WEDNESDAY,
    day_start,
    decoded,
    simulate,
    small_town,
    uplinks,
)


def test_every_device_of_the_default_town_sends_frames_that_ingest_accepts() -> None:
    town = load_town("default")
    infos = {d.dev_eui: DeviceInfo(d.dev_eui, d.name, d.model, d.catalog.device_class.value, d.site,
                                   d.municipality, d.lat, d.lon) for d in town.devices}
    pipeline = Pipeline(lookup=infos.get)
    heard: set[str] = set()
    for ns, topic, payload in simulate(town, SATURDAY):
        outcome = pipeline.process(topic, payload, arrival_ns=ns)
        assert outcome.rejection is None, outcome.rejection
        assert outcome.uplink is not None
        assert len(outcome.lines) >= 2
        heard.add(outcome.uplink.dev_eui)
    assert len(heard) > 0.97 * len(town.devices)  # a few bays may lose every frame of the day


def test_parking_status_frames_alternate_and_heartbeats_repeat_the_state(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    by_bay: dict[str, list[tuple[int, int, dict[str, object]]]] = defaultdict(list)
    for up in uplinks(simulate(town, SATURDAY, days=2)):
        if up.dev_eui.startswith(("70B3D5E7", "00A0B7C1")):
            by_bay[up.dev_eui].append((up.received_ns, up.f_port, decoded(town, up)))
    assert len(by_bay) == 48
    changes = 0
    for frames in by_bay.values():
        frames.sort(key=lambda f: f[0])
        assert frames[0][1] != 3  # installed before the run: no power-on at its start
        state = frames[0][2]["occupied"]
        for _, port, data in frames[1:]:
            if port == 1:
                assert data["occupied"] is not state
                state = data["occupied"]
                changes += 1
            else:  # heartbeats, and startups after a reset, repeat the state
                assert data["occupied"] is state
    assert changes > 48 * 4  # a busy Saturday and a Sunday


def test_nwave_heartbeat_carries_battery_and_temperature(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    beats = [decoded(town, u) for u in uplinks(simulate(town, SATURDAY)) if u.f_port == 2
             and u.dev_eui.startswith("70B3D5E7")]
    assert len(beats) == 40
    assert all(3.2 < b["battery_voltage"] < 3.52 and -20 < b["temperature"] < 30 for b in beats)
    assert all(b["battery_health"] == "normal" for b in beats)


def test_counter_totals_grow_by_the_period_counts(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    series: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    for up in sorted(uplinks(simulate(town, SATURDAY)), key=lambda u: u.received_ns):
        if not up.dev_eui.startswith("24E124FA"):
            continue
        d = decoded(town, up)
        if "line_1" in d:
            total, period = d["line_1"]["total_in"], d["line_1"]["period_in"]
        elif "line_1_total_in" in d:
            total, period = d["line_1_total_in"], d["line_1_period_in"]
        else:
            total, period = d["total_counter_a"], d["counter_a"]
        series[up.dev_eui].append((up.f_cnt, total, period))
    assert len(series) == 3
    for points in series.values():
        first = points[0][0]
        assert first > 0  # the session began before the run
        assert [p[0] for p in points] == list(range(first, first + len(points)))  # frame counters count up
        for (_, before, _), (_, after, period) in pairwise(points):
            assert (after - before) % 65536 == period % 65536
        assert sum(p[2] for p in points) > 1000


def test_decentlab_frame_carries_the_intended_values() -> None:
    sample = {"pm1_0": 7.83, "pm2_5": 10.04, "pm4": 11.2, "pm10": 15.55, "particle_size": 512.3,
              "temperature": 21.37, "humidity": 55.2, "pressure": 1013.4}
    frame = AIR_FIRMWARE["decentlab-dl-pm"](sample, device_id=321, battery=3.05)
    back = native_codec("decentlab_dl_pm").decode(1, frame)["data"]
    assert back["pm2_5_mass_concentration"]["value"] == 10.0
    assert back["pm10_mass_concentration"]["value"] == pytest.approx(15.55, abs=0.05)
    assert back["air_temperature"]["value"] == pytest.approx(21.37, abs=0.01)
    assert back["air_humidity"]["value"] == pytest.approx(55.2, abs=0.01)
    assert back["barometric_pressure"]["value"] == 101340
    assert back["battery_voltage"]["value"] == 3.05


ADC_STEP = 3000 / 32768  # mV per ADC word of the DL-AC


def test_dl_ac_frame_carries_the_worlds_gases() -> None:
    entry = catalog()["decentlab-dl-ac"]
    sample = {"no2": 61.3, "no": 48.2, "o3": 22.4, "co": 0.46, "temperature": 3.2, "humidity": 86.0}
    frame = AIR_FIRMWARE["decentlab-dl-ac"](sample, device_id=321, battery=3.6, mass_per_ppb=mass_per_ppb(entry))
    back = native_codec("decentlab_dl_ac").decode(1, frame)["data"]
    stored = {m.quantity: m.value for m in Normaliser(entry).normalise(back).measurements}
    assert stored["no2"] == pytest.approx(61.3, abs=ADC_STEP / 0.256 * 1.91 / 2)  # half a word: 0.34 µg/m³
    assert stored["no"] == pytest.approx(48.2, abs=ADC_STEP / 0.512 * 1.25 / 2)
    assert stored["co"] == pytest.approx(0.46, abs=ADC_STEP / 0.424 * 0.00116 / 2)
    assert stored["ox"] == pytest.approx(22.4 / 2.0 + 61.3 / 1.91, abs=ADC_STEP / 0.345 / 2)
    assert stored["temperature"] == pytest.approx(3.2, abs=0.01)
    assert stored["humidity"] == pytest.approx(86.0, abs=0.01)
    assert stored["battery_voltage"] == 3.6
    # the working electrode alone reads the cold cell's zero drift, which the auxiliary electrode takes out
    assert back["ch4_no2_concentration_we"]["value"] < back["ch4_no2_concentration_we_aux"]["value"] - 20


def test_dl_ac_at_the_ring_road_sees_the_rush_hours(tmp_path: Path) -> None:
    path = tmp_path / "gas.yaml"
    path.write_text(SMALL_TOWN.replace("{name: a-pm, model: decentlab-dl-pm", "{name: a-gas, model: decentlab-dl-ac"),
                    encoding="utf-8")
    town = load_town(path)
    entry = catalog()["decentlab-dl-ac"]
    start = day_start(town, WEDNESDAY)
    by_hour: dict[int, list[float]] = defaultdict(list)
    for up in uplinks(simulate(town, WEDNESDAY)):
        if up.dev_eui == "70B3D5E900000001":
            measurements = Normaliser(entry).normalise(decoded(town, up)).measurements
            by_hour[int((up.received_ns / 1e9 - start) // 3600)] += [m.value for m in measurements
                                                                     if m.quantity == "no2"]
    assert sum(len(v) for v in by_hour.values()) > 130  # every 10 minutes
    rush = np.mean([v for h in (7, 8, 16, 17) for v in by_hour[h]])
    night = np.mean([v for h in (1, 2, 3) for v in by_hour[h]])
    assert rush > 1.3 * night > 0


def test_elsys_frame_carries_the_intended_values() -> None:
    sample = {"temperature": 21.44, "humidity": 47.6, "light": 312.2, "motion": 7, "co2": 1180.4, "vdd": 3611}
    frame = AIR_FIRMWARE["elsys-ers-co2"](sample)
    back = native_codec("elsys_ers_co2").decode(5, frame)["data"]
    assert back == {"temperature": 21.4, "humidity": 48, "light": 312, "motion": 7, "co2": 1180, "vdd": 3611}


def test_classroom_co2_rises_in_lessons(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    wednesday = SATURDAY.replace(day=5)
    start = day_start(town, wednesday)
    co2 = {int((u.received_ns / 1e9 - start) // 3600): decoded(town, u)["co2"]
           for u in uplinks(simulate(town, wednesday)) if u.dev_eui.startswith("70B3D5E9") and u.f_port == 5}
    assert np.mean([co2[h] for h in (9, 10, 11)]) > 800
    assert co2[3] < 500
