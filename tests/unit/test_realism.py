"""The rules that make the default town look like a real one (seeded, short simulations of the world model)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from firmware_sim.firmware import ParkingUnit
from firmware_sim.firmware.air import number_counts
from firmware_sim.town import Site, Town, TownError, load_town
from firmware_sim.world import MINUTES, footfall_rate, make_day

MONDAY = date(2026, 2, 2)  # a regular week in February 2026: no holiday, no event
TUESDAY, WEDNESDAY, SATURDAY = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2), MONDAY + timedelta(days=5)


@pytest.fixture(scope="module")
def town() -> Town:
    return load_town("default")


def _site(town: Town, site_id: str) -> Site:
    return next(s for s in town.sites if s.id == site_id)


def _run_lot(town: Town, site_id: str, first: date, days: int) -> list[np.ndarray]:
    """Bay states (MINUTES, bays) of each day of a lot, seed 1."""
    lot = _site(town, site_id)
    unit = ParkingUnit(f"{site_id}/0", lot.devices, seed=1, faults=[], run_start=0.0, rejoin_per_year=0.0)
    out = []
    for n in range(days):
        day = make_day(town, 1, first + timedelta(days=n))
        _, states = unit._simulate(day, unit.rng(day))
        unit.started = True
        out.append(states)
    return out


def _hourly(rate: np.ndarray) -> np.ndarray:
    hours: np.ndarray = rate.reshape(24, 60).mean(axis=1)
    return hours


def test_saturday_footfall_peaks_in_the_afternoon_and_doubles_a_tuesday(town: Town) -> None:
    saturdays = [SATURDAY + timedelta(weeks=k) for k in range(4)]
    tuesdays = [TUESDAY + timedelta(weeks=k) for k in range(4)]
    sat = np.sum([_hourly(footfall_rate(make_day(town, 1, d), peak_per_hour=1000, site="fussgaengerzone"))
              for d in saturdays], axis=0)
    tue = np.sum([_hourly(footfall_rate(make_day(town, 1, d), peak_per_hour=1000, site="fussgaengerzone"))
              for d in tuesdays], axis=0)
    assert int(np.argmax(sat)) in (14, 15)
    assert sat[14:17].sum() > sat[10:13].sum()
    assert 1.5 < sat[10:20].sum() / tue[10:20].sum() < 2.4


def test_the_weekly_market_lifts_only_the_market_square(town: Town) -> None:
    day = make_day(town, 1, WEDNESDAY)  # market 07-13 h
    square = footfall_rate(day, peak_per_hour=1000, site="marktplatz")
    street = footfall_rate(day, peak_per_hour=1000, site="fussgaengerzone")
    morning, afternoon = 10 * 60, 16 * 60
    assert square[morning] / street[morning] == pytest.approx(1.5)
    assert square[afternoon] == pytest.approx(street[afternoon])
    tuesday = make_day(town, 1, TUESDAY)
    assert footfall_rate(tuesday, peak_per_hour=1000, site="marktplatz")[morning] == pytest.approx(
        footfall_rate(tuesday, peak_per_hour=1000, site="fussgaengerzone")[morning])


def test_christmas_market_fills_evenings_and_advent_sundays(town: Town) -> None:
    def without_mood(day_date: date) -> np.ndarray:
        day = make_day(town, 1, day_date)
        assert day.crowd is not None
        return footfall_rate(day, peak_per_hour=1000) / day.crowd

    advent_tuesday, november_tuesday = without_mood(date(2025, 12, 9)), without_mood(date(2025, 11, 18))
    evening, noon = 19 * 60, 12 * 60
    assert advent_tuesday[evening] / november_tuesday[evening] > 2 * advent_tuesday[noon] / november_tuesday[noon]
    advent_sunday, november_sunday = without_mood(date(2025, 12, 14)), without_mood(date(2025, 11, 16))
    weather = make_day(town, 1, date(2025, 12, 14)).weather.rain, make_day(town, 1, date(2025, 11, 16)).weather.rain
    lift = advent_sunday.sum() / (1 - 0.4 * weather[0]) / (november_sunday.sum() / (1 - 0.4 * weather[1]))
    assert 4.0 < lift < 6.6  # +318 % to +561 %


def test_shops_close_at_two_on_christmas_eve(town: Town) -> None:
    eve = footfall_rate(make_day(town, 1, date(2025, 12, 24)), peak_per_hour=1000)
    normal = footfall_rate(make_day(town, 1, date(2026, 1, 14)), peak_per_hour=1000)
    assert eve[16 * 60] / eve[11 * 60] < 0.25 * normal[16 * 60] / normal[11 * 60]


def test_park_and_ride_is_empty_at_three_and_full_on_weekday_mornings(town: Town) -> None:
    days = _run_lot(town, "pr-bahnhof", MONDAY - timedelta(days=1), 7)  # Sunday to Saturday
    for states in days[2:6]:  # Tuesday to Friday
        assert states[3 * 60].mean() < 0.1
        assert states[10 * 60].mean() > 0.7
    assert days[6][12 * 60].mean() < 0.35  # Saturday noon


def test_on_street_bays_turn_over_by_day_and_residents_stay_overnight(town: Town) -> None:
    days = _run_lot(town, "marktstrasse", MONDAY, 4)
    for states in days[1:]:
        changes = np.diff(states.astype(np.int8), axis=0) != 0
        night = np.r_[np.arange(0, 6 * 60 - 1), np.arange(22 * 60, MINUTES - 1)]
        assert 5 <= changes.sum(axis=0).mean() <= 15
        assert changes[night].sum(axis=0).mean() <= 1.0
        assert states[3 * 60].mean() > 0.2  # the residents' cars


def test_garage_bays_by_the_entrance_are_busier_than_the_top_deck(town: Town) -> None:
    days = _run_lot(town, "parkhaus-altstadt", TUESDAY, 3)
    daytime = np.mean([s[9 * 60 : 19 * 60].mean(axis=0) for s in days[1:]], axis=0)
    quarter = daytime.size // 4
    assert daytime[:quarter].mean() > 1.2 * daytime[-quarter:].mean()
    assert 0.3 < daytime.mean() < 0.9


def test_weather_changes_through_the_day_without_a_step_at_midnight(town: Town) -> None:
    for n in range(10):
        today, tomorrow = make_day(town, 1, MONDAY + timedelta(days=n)), make_day(town, 1, TUESDAY + timedelta(days=n))
        late = today.temperature(np.array([MINUTES - 1e-3]))[0]
        early = tomorrow.temperature(np.array([0.0]))[0]
        assert late == pytest.approx(early, abs=0.01)


def test_pm_number_counts_grow_with_the_coarse_mass() -> None:
    counts = number_counts(10.0, 14.0, 15.2, 20.0)
    assert counts == sorted(counts)
    assert counts[2] < counts[3] < counts[4]
    assert counts[4] - counts[2] < 0.5  # a few coarse particles only


def test_a_market_naming_an_unknown_site_is_refused(tmp_path: Path) -> None:
    text = (Path(__file__).resolve().parents[2] / "firmware_sim" / "towns" / "default.yaml").read_text("utf-8")
    path = tmp_path / "town.yaml"
    path.write_text(text.replace("sites: [marktplatz, marktstrasse", "sites: [marktplatzz, marktstrasse"), "utf-8")
    with pytest.raises(TownError, match="marktplatzz"):
        load_town(path)
