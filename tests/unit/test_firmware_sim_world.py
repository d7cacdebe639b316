"""The world model: calendar, rhythms, and reproducibility."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np

from firmware_sim.engine import Simulation, split_units, unit_specs
from firmware_sim.firmware import ParkingUnit
from firmware_sim.world import MINUTES, air_quality, easter, footfall_rate, make_day, public_holidays
from tests.unit.test_firmware_sim_support import SATURDAY, WEDNESDAY, day_start, decoded, simulate, small_town, uplinks


def test_easter_and_hessian_holidays() -> None:
    assert easter(2025) == date(2025, 4, 20)
    assert easter(2024) == date(2024, 3, 31)
    holidays = public_holidays(2025, "HE")
    assert holidays[date(2025, 6, 19)] == "Fronleichnam"
    assert holidays[date(2025, 10, 3)] == "Tag der Deutschen Einheit"
    assert date(2025, 10, 31) not in holidays  # Reformation Day is not a holiday in Hesse


def test_a_public_holiday_is_a_sunday(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    assert make_day(town, 1, date(2025, 10, 3)).info.day_type == "sunday"
    assert make_day(town, 1, WEDNESDAY).info.day_type == "workday"
    assert make_day(town, 1, SATURDAY).info.day_type == "saturday"


def test_same_seed_same_uplinks_other_seed_other_uplinks(tmp_path: Path) -> None:
    town = small_town(tmp_path, perfect_radio=False)
    first = simulate(town, SATURDAY, seed=3)
    assert first == simulate(town, SATURDAY, seed=3)
    assert first != simulate(town, SATURDAY, seed=4)


def test_splitting_units_across_processes_changes_nothing(tmp_path: Path) -> None:
    town = small_town(tmp_path, perfect_radio=False)
    start = day_start(town, SATURDAY)
    whole = Simulation(town, seed=5, run_start=start).day(SATURDAY)
    parts = []
    for keys in split_units(unit_specs(town), 3):
        parts += Simulation(town, seed=5, run_start=start, units=keys).day(SATURDAY)
    assert sorted(parts) == sorted(whole)


def test_footfall_is_low_at_night_and_high_on_saturday_afternoon(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    counts = {3: 0, 15: 0}
    for up in uplinks(simulate(town, SATURDAY)):
        if up.dev_eui.startswith("24E124FA") and up.f_port == 85:
            data = decoded(town, up)
            hour = (up.received_ns // 10**9 - int(day_start(town, SATURDAY))) // 3600
            period = data["line_1"]["period_in"] if "line_1" in data else data["line_1_period_in"]
            if hour in counts:
                counts[hour] += period
    assert counts[3] * 10 < counts[15]
    saturday = footfall_rate(make_day(town, 1, SATURDAY), peak_per_hour=1000)
    sunday = footfall_rate(make_day(town, 1, date(2025, 3, 9)), peak_per_hour=1000)
    assert saturday[15 * 60] > 2 * sunday[15 * 60]


def test_parking_fills_on_market_saturday_morning_and_empties_at_night(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    lot = town.sites[0]
    unit = ParkingUnit("lot/0", lot.devices, seed=1, faults=[], run_start=0.0, rejoin_per_year=0.0)
    rng = np.random.default_rng(1)
    for day in (date(2025, 3, 6), date(2025, 3, 7)):  # two days to settle
        _, states = unit._simulate(make_day(town, 1, day), rng)
        unit.state = states[-1]
        unit.started = True
    _, states = unit._simulate(make_day(town, 1, SATURDAY), rng)
    night = states[2 * 60 : 4 * 60].mean()
    market_morning = states[10 * 60 : 12 * 60].mean()
    assert market_morning > 0.75
    assert night < 0.25
    assert states.shape == (MINUTES, len(lot.devices))


def test_no2_at_the_road_rush_hour_twice_the_night_and_highest_in_the_evening(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    minutes = np.arange(0, MINUTES, 10, dtype=np.float64)
    hourly = np.zeros(24)
    for n in range(10):  # two working weeks of February
        day = make_day(town, 1, date(2025, 2, 3) + timedelta(days=n + 2 * (n // 5)))
        air = air_quality(day, minutes, traffic_weight=1.0, rng=np.random.default_rng(n))
        hourly += air.no2.reshape(24, 6).mean(axis=1)
        assert np.all(air.pm10 >= air.pm2_5)
    morning, evening, night = hourly[7:9].mean(), hourly[19:21].mean(), hourly[0:6].min()
    assert 1.5 < morning / night < 2.3
    assert evening > morning
    assert 18 <= int(np.argmax(hourly)) <= 21
