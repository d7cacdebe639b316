"""The detection job's rules that span devices: drift against the town's other stations, idle car parks."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest

from devices.catalog import get_model
from processing import detect as det
from processing.anomaly_job import (
    DAILY,
    DAY,
    DRIFT_SIGNIFICANCE,
    EACH_SIGNIFICANCE,
    EXPLAINED_DAY_SHARE,
    FULL_DAY_SHARE,
    IDLE_CHANCE,
    NS,
    WEATHER_DAYS_AFTER,
    WEATHER_SIGNIFICANCE,
    Context,
    Raw,
    above_at_site,
    against_each,
    beyond_own_range,
    changes,
    confirmations,
    confirmed_drift,
    count_events,
    daily_drift_events,
    daily_medians,
    day_kinds,
    departure_from_town,
    departure_from_weather,
    explained_out,
    full_days,
    gas_drift_events,
    held_as_usual,
    idle_by_chance,
    idle_share,
    judged_drift,
    level_events,
    lot_busy_enough,
    lot_idle_as_long,
    saturated,
    shared_by_site,
    silent_at_site,
    site_factor,
    state_events,
    town_pressure,
    town_ratio,
    town_temperature,
    town_weather,
    week_ratio,
    weekly_events,
    with_above_at_site,
    without_drifts_departures,
    without_explained_days,
)
from processing.events import Detection

START_DAY = 20_240  # 2025-06-01 as days since the epoch


def daily(values: np.ndarray) -> dict[int, float]:
    return {START_DAY + i: float(v) for i, v in enumerate(values)}


def ratio_drifts(own: dict[int, float], others: list[dict[int, float]]) -> list[det.Event]:
    times, ratio = town_ratio(own, others)
    series = det.Series(times, ratio, DAY, "log ratio", "")
    median, spread = det.long_term(series, DAILY)
    return det.drift_events(series, DAILY, median, spread)


def weather(days: int = 40, seed: int = 3) -> np.ndarray:
    """A town-wide factor: day-to-day weather and a slow seasonal rise of 40 % over the period."""
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(0, 0.25, days)) * np.linspace(1.0, 1.4, days)


def test_a_change_every_station_shares_is_no_drift_against_the_town() -> None:
    town = weather()
    rng = np.random.default_rng(4)
    a, b = 20 * town * np.exp(rng.normal(0, 0.05, town.size)), 12 * town * np.exp(rng.normal(0, 0.05, town.size))
    assert ratio_drifts(daily(a), [daily(b)]) == []


def test_a_sensor_that_drifts_alone_drifts_against_the_town() -> None:
    town = weather()
    rng = np.random.default_rng(5)
    a, b = 20 * town * np.exp(rng.normal(0, 0.05, town.size)), 12 * town * np.exp(rng.normal(0, 0.05, town.size))
    a[28:32] += 6.0 * np.arange(1, 5)  # +6 a day for four days
    events = ratio_drifts(daily(a), [daily(b)])
    assert events
    assert all("drifting upward" in e.reason for e in events)
    assert min(e.began for e in events) >= (START_DAY + 27) * DAY


def drift(onset_day: int, end_day: int, direction: str) -> Detection:
    return Detection("A", "no2", "", "drift", onset_day * DAY, onset_day * DAY + DAY, end_day * DAY, 2.0,
                     f"daily median of no2 drifting {direction} since about ...")


@pytest.mark.parametrize(("direction", "kept"), [("upward", True), ("downward", False)])
def test_a_drift_is_confirmed_only_by_a_ratio_moving_the_same_way_at_the_same_time(direction: str,
                                                                                    kept: bool) -> None:
    ratio = det.Event(12 * DAY, 14 * DAY, "drift", 1.5, "log ratio drifting upward since ...", onset=11 * DAY)
    confirmed = confirmed_drift(drift(10, 15, direction), [ratio])
    assert (confirmed is not None) == kept
    if confirmed is not None:
        assert confirmed.onset == 11 * DAY  # when both had begun
        assert confirmed.start >= confirmed.onset
        assert "town's other stations" in confirmed.reason
    assert confirmed_drift(drift(20, 25, "upward"), [ratio]) is None  # another time


def bay(dev_eui: str, times: list[float], states: list[float]) -> Raw:
    return Raw(dev_eui, "", np.array(times), np.array(states))


def test_idle_share_counts_the_bays_that_stood_unchanged_as_long() -> None:
    others = [
        changes(bay("b", [0, 10, 50, 100], [0, 1, 0, 0])),  # changed at 10 and 50
        changes(bay("c", [0, 60, 100], [1, 1, 1])),  # never changed
        changes(bay("d", [0, 30, 100], [0, 0, 1])),  # changed at 100
        changes(bay("e", [40, 100], [0, 1])),  # not heard before 20: not counted
    ]
    assert idle_share(others, 20, 80) == pytest.approx(2 / 3)  # c and d stood still from 20 to 80
    assert idle_share(others, 0, 100) == pytest.approx(1 / 3)
    assert idle_share([], 0, 100) == 0.0


def counter(dev_eui: str, factor_now: float, *, weeks: int = 7, seed: int = 1) -> Raw:
    """A counter reporting every 10 minutes for ``weeks`` weeks; the last day's 10:00-12:00 scaled by
    ``factor_now``.
    """
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, weeks * 7 * DAY, 600.0)
    values = rng.poisson(60.0, times.size).astype(np.float64)
    now = (times >= (weeks * 7 - 1) * DAY + 10 * 3600) & (times < (weeks * 7 - 1) * DAY + 12 * 3600)
    values[now] = np.round(values[now] * factor_now)
    return Raw(dev_eui, "", times, values)


SPAN = ((7 * 7 - 1) * DAY + 10 * 3600, (7 * 7 - 1) * DAY + 12 * 3600 - 600)


def test_week_ratio_compares_a_span_with_the_same_span_of_earlier_weeks() -> None:
    assert week_ratio(counter("a", 1.0), *SPAN) == pytest.approx(1.0, abs=0.1)
    assert week_ratio(counter("a", 3.0), *SPAN) == pytest.approx(3.0, abs=0.3)
    assert week_ratio(counter("a", 1.0, weeks=2), *SPAN) is None  # too few earlier weeks


def test_a_departure_the_site_shares_is_the_sites_own() -> None:
    event = det.Event(SPAN[0], SPAN[1], "seasonal", 1.2, "")
    busy = [counter("a", 1.8, seed=1), counter("b", 1.6, seed=2), counter("c", 1.7, seed=3)]
    assert shared_by_site(event, busy[0], busy)  # a crowded square: every counter is busier
    spike = [counter("a", 8.0, seed=1), counter("b", 1.1, seed=2), counter("c", 0.9, seed=3)]
    assert not shared_by_site(event, spike[0], spike)  # one counter alone at eight times its week
    dead = [counter("a", 0.0, seed=1), counter("b", 1.0, seed=2), counter("c", 1.0, seed=3)]
    assert not shared_by_site(event, dead[0], dead)
    assert not shared_by_site(event, busy[0], busy[:1])  # no other counter: the counter's own


def lot(days: int, busy_until: int, *, bays: int = 10, taken_busy: int = 9, taken_quiet: int = 3) -> list[Raw]:
    """Bays reporting every 30 minutes: on busy days (before ``busy_until``) ``taken_busy`` of them are occupied
    10:00-16:00, on quiet days ``taken_quiet``; bay 0 is taken first, the last bay never.
    """
    times = np.arange(0.0, days * DAY, 1800.0)
    hour = (times % DAY) / 3600
    day = times // DAY
    out = []
    for i in range(bays):
        taken = np.where(day < busy_until, taken_busy, taken_quiet)
        values = ((hour >= 10) & (hour < 16) & (i < taken)).astype(np.float64)
        out.append(Raw(f"bay{i}", "", times, values))
    return out


def far_bay(days: int, busy_until: int, frozen_from: int) -> Raw:
    """A bay at the far end: taken only on busy days, 11:00-15:00; free from ``frozen_from`` on."""
    times = np.arange(0.0, days * DAY, 1800.0)
    hour, day = (times % DAY) / 3600, times // DAY
    values = ((hour >= 11) & (hour < 15) & (day < busy_until) & (day < frozen_from)).astype(np.float64)
    return Raw("far", "", times, values)


def test_a_bay_left_free_while_its_lot_stayed_quiet_is_not_stuck() -> None:
    event = det.Event(19 * DAY, 20 * DAY, "stuck", 2.0, "", onset=10 * DAY + 15 * 3600)
    quiet = lot(20, busy_until=10)  # busy days only before the bay froze: the lot never filled meanwhile
    assert lot_busy_enough(far_bay(20, 10, 10), quiet, event) is None
    busy = lot(20, busy_until=20)  # the lot filled to 90 % every day and the bay stayed free: stuck
    reason = lot_busy_enough(far_bay(20, 20, 10), busy, event)
    assert reason is not None
    assert "90 % full meanwhile" in reason
    assert lot_busy_enough(far_bay(20, 20, 10), [], event) == ""  # no lot to compare with: as found
    early = det.Event(1 * DAY, 2 * DAY, "stuck", 2.0, "", onset=0.5 * DAY)  # too little history to tell
    assert lot_busy_enough(far_bay(20, 20, 0), busy, early) == ""


def test_a_bay_idle_as_long_as_its_quiet_lot_makes_likely_is_not_stuck() -> None:
    times = np.arange(0.0, 20 * DAY, 3600.0)
    flips = (times // (6 * 3600)) % 2  # changes every 6 hours while it works
    frozen = Raw("bay", "", times, np.where(times < 10 * DAY, flips, 0.0))
    event = det.Event(18 * DAY, 20 * DAY, "stuck", 2.0, "", onset=10 * DAY)

    def others(changes_meanwhile: int) -> list[tuple[float, float, np.ndarray]]:
        before = np.arange(3600.0, 10 * DAY, 6 * 3600.0)  # as often as the bay used to change
        after = np.linspace(10 * DAY + 1, 18 * DAY - 1, changes_meanwhile)
        return [(0.0, 20 * DAY, np.concatenate((before, after))) for _ in range(50)]

    busy = idle_by_chance(frozen, others(32), event)  # the lot kept changing: 32 expected, none seen
    assert busy is not None
    assert busy < IDLE_CHANCE
    quiet = idle_by_chance(frozen, others(1), event)  # one change per bay in 8 days: idle by chance is likely
    assert quiet is not None
    assert quiet > 1.0
    assert idle_by_chance(frozen, [], event) is None


def test_humidity_held_at_saturation_is_fog_not_a_frozen_sensor() -> None:
    times = np.arange(0.0, 10 * 3600.0, 600.0)
    event = det.Event(8 * 3600.0, 9 * 3600.0, "stuck", 2.0, "", onset=3600.0)
    fog = Raw("a", "", times, np.where(times >= 3600.0, 99.0, 90.0))
    assert saturated(event, fog, "humidity")
    frozen = Raw("a", "", times, np.where(times >= 3600.0, 71.0, 90.0))
    assert not saturated(event, frozen, "humidity")
    assert not saturated(event, fog, "pm2_5")  # only humidity saturates


def drift_record(onset_day: int, end_day: int, *, start_day: int | None = None, direction: str = "upward"
                 ) -> Detection:
    """A drift of daily medians (times are day ends), from ``onset_day`` with its alarm on ``start_day``."""
    alarm = onset_day if start_day is None else start_day
    return Detection("a", "no2", "", "drift", (START_DAY + onset_day + 1) * DAY - 1,
                     (START_DAY + alarm + 1) * DAY - 1, (START_DAY + end_day + 1) * DAY - 1, 2.0,
                     f"daily median of no2 drifting {direction} since about ...", False, "Town", "site")


def test_the_departure_from_the_town_is_measured_over_the_days_the_drift_built_up() -> None:
    rng = np.random.default_rng(11)
    ratio = rng.normal(0.2, 0.05, 40)
    ratio[30:33] = 0.2 + np.array([0.3, 0.6, 0.9])  # the drift's three days
    ratio[33:] = 0.2  # back to its level, while the drift's sums stay above the alarm
    times = (START_DAY + np.arange(40) + 1) * DAY - 1.0
    departure = departure_from_town(times, ratio, drift_record(30, 39, start_day=32))
    assert departure is not None
    shift, spread, days = departure
    reference = ratio[14:28]  # the 14 days up to 2 days before the onset (day 30)
    usual = float(np.median(reference))
    assert days == 3
    assert shift == pytest.approx(float(np.mean(ratio[30:33])) - usual)
    assert spread == pytest.approx(det.MAD_TO_SIGMA * float(np.median(np.abs(reference - usual))))
    assert shift / spread > 10  # 0.6 on average against a spread near 0.05
    # a drift the other way measures the departure the other way
    downward = departure_from_town(times, ratio, drift_record(30, 39, start_day=32, direction="downward"))
    assert downward is not None
    assert downward[0] == pytest.approx(-shift)
    # over the whole event (onset to end) the three days would be diluted by seven ordinary ones
    assert float(np.mean(ratio[30:40])) - usual < shift / 2
    # no usual level before the warm-up: the days cannot tell
    assert departure_from_town(times, ratio, drift_record(5, 8)) is None


def test_a_sensor_drifting_while_the_town_rises_is_kept() -> None:
    """The town's level rises by a quarter over the drift's days (the season), the sensor by far more."""
    town = weather(42, seed=5)
    town[30:] *= np.linspace(1.0, 1.25, 12)
    rng = np.random.default_rng(6)
    others = [daily(town * 20 * np.exp(rng.normal(0, 0.04, 42))), daily(town * 25 * np.exp(rng.normal(0, 0.04, 42)))]
    own = town * 30 * np.exp(rng.normal(0, 0.04, 42))
    own[30:33] += np.array([8.0, 16.0, 24.0])  # an additive drift for three days, then back
    found = drift_record(30, 41, start_day=31)  # its own sums stay above the alarm for days after
    kept = judged_drift(found, daily(own), others)
    assert kept is not None
    assert "times the" in kept.reason
    assert "rose by" in kept.reason
    times, ratio = town_ratio(daily(own), others)
    departure = departure_from_town(times, ratio, kept)
    assert departure is not None
    assert departure[0] >= DRIFT_SIGNIFICANCE * departure[1]


def test_a_drift_whose_ratio_barely_moved_on_its_own_days_is_dropped() -> None:
    """The other station drifted up first, so the ratio drifted down over a span that includes this station's
    own small fall a day later: the ratio's event overlaps, but on the station's own days it moved by about
    its usual spread only.
    """
    town = weather(42, seed=8)
    rng = np.random.default_rng(9)
    other = town * 25 * np.exp(rng.normal(0, 0.04, 42))
    other[27:30] *= np.array([1.4, 1.8, 2.2])  # the other station's own drift
    own = town * 20 * np.exp(rng.normal(0, 0.04, 42))
    own[31:] *= 0.95  # a small fall, one usual spread of the ratio
    found = drift_record(31, 41, start_day=31, direction="downward")
    times, ratio = town_ratio(daily(own), [daily(other)])
    confirmed = confirmed_drift(found, ratio_drifts(daily(own), [daily(other)]))
    assert confirmed is not None  # the ratio's own event overlaps the drift
    departure = departure_from_town(times, ratio, confirmed)
    assert departure is not None
    assert departure[0] < DRIFT_SIGNIFICANCE * departure[1]
    assert judged_drift(found, daily(own), [daily(other)]) is None
    # the same days with a fall far beyond the ratio's spread are the station's own drift
    own[31:] *= 0.6
    assert judged_drift(found, daily(own), [daily(other)]) is not None


def weather_spells(seed: int = 1, days: int = 42) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """A ring road's daily medians whose ratio to the town follows the town's level and temperature (its
    exhaust's share grows when an inversion lifts the town's level and when warm days stop the heating), with
    two spells of warm, trapped air (days 19-21 and 30-32); the town's temperature, the station and two others.
    """
    rng = np.random.default_rng(seed)
    level = np.exp(rng.normal(0.0, 0.1, days))
    temperature = rng.normal(5.0, 2.0, days)
    for spell in (slice(19, 22), slice(30, 33)):
        level[spell] *= 1.6
        temperature[spell] += 6.0
    ratio = 0.2 + 0.3 * np.log(level) + 0.02 * (temperature - 5.0) + rng.normal(0, 0.02, days)
    others = [20 * level * np.exp(rng.normal(0, 0.01, days)), 25 * level * np.exp(rng.normal(0, 0.01, days))]
    return temperature, 22 * level * np.exp(ratio), others


def test_a_rise_the_weather_explains_is_no_drift() -> None:
    temperature, ring, others = weather_spells()
    found = drift_record(30, 34, start_day=31)
    town = [daily(o) for o in others]
    times, ratio = town_ratio(daily(ring), town)
    # every earlier test takes the second spell for the station's own drift: the ratio departed far from its
    # median, the same way, against each other station too
    departure = departure_from_town(times, ratio, found)
    assert departure is not None
    assert departure[0] >= DRIFT_SIGNIFICANCE * departure[1]
    confirmed = confirmations(found, ratio_drifts(daily(ring), town))
    assert confirmed
    assert against_each(confirmed[0], daily(ring), town)
    assert judged_drift(found, daily(ring), town, [{}]) is not None  # the town's temperature unknown
    # the first spell shows how the ratio follows the weather: the second departs from that by nothing
    weather = town_weather(times, daily(ring), town, [daily(temperature)])
    beyond = departure_from_weather(times, ratio, weather, confirmed[0])
    assert beyond is not None
    assert beyond[0] < WEATHER_SIGNIFICANCE * beyond[1]
    assert judged_drift(found, daily(ring), town, [daily(temperature)]) is None


def test_a_drift_during_a_weather_spell_is_kept() -> None:
    temperature, ring, others = weather_spells()
    ring[30:35] *= np.exp(0.1 * np.arange(1, 6))  # the sensor drifts by 10 % a day from the spell on
    found = drift_record(30, 34, start_day=31)
    kept = judged_drift(found, daily(ring), [daily(o) for o in others], [daily(temperature)])
    assert kept is not None
    assert "beyond what the town's level and weather explain" in kept.reason


def test_the_weather_is_judged_over_the_drifts_days_and_two_after() -> None:
    temperature, ring, others = weather_spells()
    town = [daily(o) for o in others]
    times, ratio = town_ratio(daily(ring), town)
    weather = town_weather(times, daily(ring), town, [daily(temperature)])
    assert weather.shape == (times.size, 2)
    days = departure_from_weather(times, ratio, weather, drift_record(30, 39, start_day=31))
    assert days is not None
    assert days[2] == 2 + WEATHER_DAYS_AFTER
    ended = departure_from_weather(times, ratio, weather, drift_record(30, 32, start_day=31))
    assert ended is not None
    assert ended[2] == 3
    # the weather cannot tell without a temperature on the judged days, nor without a week of it before
    known = {day: t for day, t in daily(temperature).items() if day < START_DAY + 31}
    missing = town_weather(times, daily(ring), town, [known])
    assert departure_from_weather(times, ratio, missing, drift_record(30, 39, start_day=31)) is None
    assert departure_from_weather(times, ratio, weather, drift_record(8, 12, start_day=9)) is not None  # days 0-6
    assert departure_from_weather(times, ratio, weather, drift_record(7, 12, start_day=8)) is None  # days 0-5


def test_the_towns_temperature_is_the_median_of_its_stations() -> None:
    stations = [{1: 4.0, 2: 5.0}, {1: 6.0, 2: 30.0}, {1: 5.0}]  # one thermometer off on day 2
    assert town_temperature(stations) == {1: 5.0, 2: 17.5}
    assert town_temperature([{1: 4.0}, {1: 5.0}, {1: 40.0}]) == {1: 5.0}
    assert town_temperature([]) == {}


def test_the_towns_air_pressure_is_each_stations_departure_from_its_usual() -> None:
    low = {1: 1013.0, 2: 1023.0, 3: 1003.0}
    high = {1: 1001.0, 2: 1011.0, 3: 991.0}  # a station 100 m higher reads 12 hPa less
    assert town_pressure([low, high]) == {1: 0.0, 2: 10.0, 3: -10.0}
    # a station missing on day 2 does not pull the town towards its own height on the days it reports
    gap = {1: 1020.0, 3: 1000.0, 4: 1010.0}
    assert town_pressure([low, high, gap]) == {1: 0.0, 2: 10.0, 3: -10.0, 4: 0.0}
    assert town_pressure([{}, low]) == {1: 0.0, 2: 10.0, 3: -10.0}
    assert town_pressure([]) == {}


def test_only_days_with_most_of_their_readings_have_a_daily_median() -> None:
    def row(day: int, median: float | None, count: int | None) -> list[float | int | None]:
        return [(START_DAY + day) * DAY * NS, median, count]

    fullest = 96
    rows = [
        row(0, 30.0, 8),  # the first day of a run: two night hours
        row(1, 20.0, fullest),
        row(2, 21.0, math.ceil(FULL_DAY_SHARE * fullest)),
        row(3, 40.0, math.ceil(FULL_DAY_SHARE * fullest) - 1),  # a long outage took more than half the day
        row(4, None, None),  # no reading at all
    ]
    assert full_days(rows) == {START_DAY + 1: 20.0, START_DAY + 2: 21.0}
    assert full_days([]) == {}


def test_the_days_a_stations_own_faults_took_stay_out_of_its_ratio_to_the_town() -> None:
    drift = drift_record(30, 39)
    own = daily(np.full(40, 20.0))

    def event(kind: str, day: int, hours: float, *, offset: float = 8.0, dev_eui: str = "a",
              quantity: str = "no2") -> Detection:
        start = (START_DAY + day) * DAY + offset * 3600
        return Detection(dev_eui, quantity, "", kind, start, start, start + hours * 3600, 5.0, "...")

    share = EXPLAINED_DAY_SHARE * 24
    found = [
        event("stuck", 5, 12.0),  # frozen at a rush hour's value for half the day
        event("out_of_range", 6, share),  # exactly the share
        event("spike", 7, 0.5),  # a short spike leaves the day's median alone
        event("stuck", 8, share * 0.9),  # a little under the share
        event("stuck", 9, share, offset=24 - share / 2),  # across midnight: half of it on each day
        event("stuck", 11, 12.0, dev_eui="b"),  # another station's fault
        event("stuck", 12, 12.0, quantity="co"),  # the station's fault of another quantity
        event("gap", 13, 12.0),  # a gap has no readings to move the median
        drift,
    ]
    # frozen from 06:00 for 8 h, recognised as stuck only at 12:00: the day's median moved from 06:00 on
    frozen = event("stuck", 14, 8.0, offset=6.0)
    found.append(replace(frozen, start=frozen.onset + 6 * 3600))
    kept = without_explained_days(own, drift, found)
    assert set(own) - set(kept) == {START_DAY + 5, START_DAY + 6, START_DAY + 14}
    assert without_explained_days(own, drift, [drift]) == own


def pressure_spells(seed: int = 1, days: int = 42) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """A ring road whose ratio to the town rises in calm air under a high (days 12-14 and 30-32), which the town
    does not measure: its exhaust stays near the ground, while the town's heating, spread over the town, rises
    far less. The town's level follows the heating; the temperature does not follow the pressure. Returns
    the town's temperature, its air pressure (hPa from its usual), the ring road and two other stations.
    """
    rng = np.random.default_rng(seed)
    pressure = rng.normal(0.0, 4.0, days)
    for spell in (slice(12, 15), slice(30, 33)):
        pressure[spell] += 20.0
    temperature = rng.normal(5.0, 2.0, days)
    level = np.exp(rng.normal(0.0, 0.25, days) + 0.005 * pressure)
    ratio = 0.2 + 0.025 * pressure + rng.normal(0, 0.03, days)
    others = [20 * level * np.exp(rng.normal(0, 0.01, days)), 25 * level * np.exp(rng.normal(0, 0.01, days))]
    return temperature, pressure, 22 * level * np.exp(ratio), others


def test_a_rise_in_calm_air_under_a_high_is_no_drift() -> None:
    temperature, pressure, ring, others = pressure_spells()
    found = drift_record(30, 34, start_day=31)
    town = [daily(o) for o in others]
    # against the town and its temperature the calm spell looks like the station's own drift
    kept = judged_drift(found, daily(ring), town, [daily(temperature)])
    assert kept is not None
    times, ratio = town_ratio(daily(ring), town)
    departure = departure_from_town(times, ratio, kept)
    assert departure is not None
    assert departure[0] >= DRIFT_SIGNIFICANCE * departure[1]
    # the first spell shows how the ratio follows the air pressure: the second departs from that by nothing
    assert judged_drift(found, daily(ring), town, [daily(temperature), daily(pressure)]) is None


def test_a_drift_in_calm_air_under_a_high_is_kept() -> None:
    temperature, pressure, ring, others = pressure_spells()
    ring[30:35] *= np.exp(0.15 * np.arange(1, 6))  # the sensor drifts by 15 % a day from the spell on
    found = drift_record(30, 34, start_day=31)
    kept = judged_drift(found, daily(ring), [daily(o) for o in others], [daily(temperature), daily(pressure)])
    assert kept is not None
    assert "beyond what the town's level and weather explain" in kept.reason


def test_a_drift_stands_where_the_town_cannot_tell() -> None:
    found = drift_record(30, 39)
    assert judged_drift(found, daily(np.ones(40)), []) == found  # no other station
    assert judged_drift(found, {START_DAY: 1.0, START_DAY + 1: 1.0}, [daily(np.ones(40))]) == found


def test_a_drift_must_show_against_each_other_station() -> None:
    town = weather(40, seed=7)
    ramp = np.zeros(40)
    ramp[30:] = np.arange(10) * 0.08  # a drift of 8 % a day from day 30
    drifting, sound_a, sound_b = town * 30 * np.exp(ramp), town * 20, town * 25
    event = replace(drift_record(30, 39, start_day=33), reason="no2 drifting upward")
    assert against_each(event, daily(drifting), [daily(sound_a), daily(sound_b)])
    downward = replace(drift_record(30, 39, start_day=33), reason="no2 drifting downward")  # a sound station against
    # a drifting one and a sound one: their mean rises, but against the sound one alone nothing moved
    assert not against_each(downward, daily(sound_a), [daily(drifting), daily(sound_b)])


LAST_DAY = date(1970, 1, 1) + timedelta(days=7 * 7 - 1)  # the counters' last day (see ``counter``)
EVENT = Context(0.0, 7 * 7 * DAY, frozenset(), None, frozenset({LAST_DAY}))


def test_the_events_lift_is_the_median_of_the_other_counters_against_their_weeks() -> None:
    site = [counter("a", 8.0, seed=1), counter("b", 1.5, seed=2), counter("c", 1.7, seed=3),
            counter("d", 8.0, seed=4)]
    lift = site_factor(site[0], site, EVENT)
    assert lift is not None
    at = lift(np.array([SPAN[0], SPAN[0] + 3600, SPAN[0] - 3 * 3600, 3600.0, 1e9]))
    # b, c and d (a spike there too): their median; the counter itself does not measure its own excuse
    assert at[0] == pytest.approx(1.7, abs=0.15)
    assert at[1] == pytest.approx(1.7, abs=0.15)
    assert at[2] == pytest.approx(1.0, abs=0.15)  # 07:00, before the crowd
    assert np.isnan(at[3])  # the first week has no earlier weeks
    assert np.isnan(at[4])  # after the data, nothing
    assert site_factor(site[0], site[:1], EVENT) is None  # no other counter
    # two silent neighbours (flatlined at 0) measure no crowd: the one that counts sets the lift
    silent = [site[0], counter("b", 0.0, seed=2), counter("c", 0.0, seed=3), counter("d", 3.0, seed=4)]
    with_silent = site_factor(silent[0], silent, EVENT)
    assert with_silent is not None
    assert with_silent(np.array([SPAN[0]]))[0] == pytest.approx(3.0, abs=0.3)


def test_event_days_in_the_history_do_not_set_the_usual_hour() -> None:
    site = [counter("a", 1.0, seed=1), counter("b", 2.0, seed=2), counter("c", 2.0, seed=3)]
    hours = (site[1].times % DAY >= 10 * 3600) & (site[1].times % DAY < 12 * 3600)
    for weeks_before in (1, 2, 3, 4):  # the same event on the same weekday of four earlier weeks
        day = (7 * 7 - 1 - 7 * weeks_before) * DAY
        for raw in site:
            raw.values[hours & (raw.times >= day) & (raw.times < day + DAY)] *= 2.0
    days = frozenset(LAST_DAY - timedelta(days=7 * k) for k in range(5))
    lift = site_factor(site[0], site, replace(EVENT, event_days=days))
    assert lift is not None
    assert lift(np.array([SPAN[0]]))[0] == pytest.approx(2.0, abs=0.2)  # against the usual weeks only
    unknown = site_factor(site[0], site, EVENT)  # the earlier event days taken as usual: it seems no lift
    assert unknown is not None
    assert unknown(np.array([SPAN[0]]))[0] == pytest.approx(1.0, abs=0.2)


def test_on_an_event_day_a_counter_alone_at_eight_times_its_week_is_reported() -> None:
    site = [counter("a", 8.0, seed=1), counter("b", 1.5, seed=2), counter("c", 1.7, seed=3)]
    [spike] = [e for e in count_events(site[0], "people_in", None, EVENT, neighbours=site) if e.kind == "seasonal"]
    assert SPAN[0] <= spike.start <= spike.end <= SPAN[1]
    assert "what the day's event explains" in spike.reason
    for crowd in site[1:]:  # the crowd the others share is the event's
        assert [e for e in count_events(crowd, "people_in", None, EVENT, neighbours=site)
                if e.kind == "seasonal" and e.end >= SPAN[0]] == []
    # with no other counter to measure the event, the plain bound (ten times the week) excuses eight
    assert [e for e in count_events(site[0], "people_in", None, EVENT) if e.end >= SPAN[0]] == []


def shop_counter(dev_eui: str, rate: float, days: int, *, seed: int, silent: tuple[float, float] | None = None,
                 closed_day: int | None = None, opens: int = 8) -> Raw:
    """A counter every 10 minutes for ``days`` days, counting ``rate`` a reading from ``opens`` to 20:00 and
    nobody at night (nor on ``closed_day``); zeros over ``silent`` (s).
    """
    rng = np.random.default_rng(seed)
    times = np.arange(0.0, days * DAY, 600.0)
    hour = times % DAY / 3600
    open_ = (hour >= opens) & (hour < 20)
    if closed_day is not None:
        open_ &= np.floor(times / DAY) != closed_day
    values = np.where(open_, rng.poisson(rate, times.size), 0).astype(np.float64)
    if silent is not None:
        values[(times >= silent[0]) & (times < silent[1])] = 0.0
    return Raw(dev_eui, "", times, values)


FLAT = ((6 - 1) * DAY + 9 * 3600, (6 - 1) * DAY + 17 * 3600)  # the sixth day, 09:00-17:00
SHORT = Context(0.0, 6 * DAY, frozenset(), None, frozenset())


def test_a_counter_silent_while_its_site_counts_is_stuck_without_weeks_of_history() -> None:
    site = [shop_counter("a", 12.0, 6, seed=1, silent=FLAT), shop_counter("b", 30.0, 6, seed=2),
            shop_counter("c", 20.0, 6, seed=3)]
    [stuck] = [e for e in count_events(site[0], "people_in", None, SHORT, neighbours=site) if e.kind == "stuck"]
    assert stuck.onset == FLAT[0]
    assert FLAT[0] < stuck.start < FLAT[0] + 3600  # 12 a reading at a share of 0.24: 30 missing within the hour
    assert stuck.end == FLAT[1] - 600
    counted = sum(float(n.values[(n.times >= FLAT[0]) & (n.times < FLAT[1])].sum()) for n in site[1:])
    assert f"counted nobody 09:00-16:50 UTC on 1970-01-06 while the site's other counters counted {counted:,.0f}" \
        in stuck.reason
    assert "at its usual share of theirs at these hours it would have counted about" in stuck.reason
    assert stuck.score > 10  # about 12 × 48 = 576 expected against 30
    # the weekly rule alone has no earlier weeks to judge with
    assert [e for e in count_events(site[0], "people_in", None, SHORT) if e.kind == "stuck"] == []
    # the working counters are not reported
    for working in site[1:]:
        assert [e for e in count_events(working, "people_in", None, SHORT, neighbours=site)
                if e.kind == "stuck"] == []


def test_a_counter_silent_on_a_holiday_while_its_site_counts_is_stuck() -> None:
    site = [shop_counter("a", 12.0, 6, seed=1, silent=FLAT), shop_counter("b", 30.0, 6, seed=2),
            shop_counter("c", 20.0, 6, seed=3)]
    holidays = frozenset({date(1970, 1, 5), date(1970, 1, 6)})  # the silent day and the day before: school holidays
    holiday = replace(SHORT, excluded_days=holidays)
    [stuck] = [e for e in count_events(site[0], "people_in", None, holiday, neighbours=site) if e.kind == "stuck"]
    assert stuck.onset == FLAT[0]
    assert "counted nobody 09:00-16:50 UTC on 1970-01-06" in stuck.reason
    # its share was learnt on the four other days: the same expectation as without the holidays
    [usual] = [e for e in count_events(site[0], "people_in", None, SHORT, neighbours=site) if e.kind == "stuck"]
    assert stuck.score == pytest.approx(usual.score, rel=0.2)
    # on the holidays the weekly rule judges nothing; without the site's other counters nothing is found
    assert [e for e in count_events(site[0], "people_in", None, holiday) if e.kind == "stuck"] == []


def test_a_site_whose_counters_are_all_silent_raises_nothing() -> None:
    closed = [shop_counter(name, rate, 6, seed=seed, closed_day=5)
              for name, rate, seed in (("a", 12.0, 1), ("b", 30.0, 2), ("c", 20.0, 3))]
    for raw in closed:  # every night and the closed sixth day: zeros everywhere, nobody expected
        assert [e for e in count_events(raw, "people_in", None, SHORT, neighbours=closed) if e.kind == "stuck"] == []
    # a counter whose street wakes up later than the others' is silent at its usual hours, not stuck
    late = [shop_counter("a", 12.0, 6, seed=1, opens=11), shop_counter("b", 30.0, 6, seed=2)]
    assert silent_at_site(late[0], late, SHORT) == []
    # a quiet counter whose share of a busy site makes 30 unlikely within its silence is not stuck either
    quiet = [shop_counter("a", 0.05, 6, seed=1, silent=FLAT), shop_counter("b", 30.0, 6, seed=2)]
    assert silent_at_site(quiet[0], quiet, SHORT) == []


def test_a_silent_counter_needs_days_of_its_usual_share() -> None:
    flat = (1 * DAY + 9 * 3600, 1 * DAY + 17 * 3600)  # the second of two days: one usual day only
    site = [shop_counter("a", 12.0, 2, seed=1, silent=flat), shop_counter("b", 30.0, 2, seed=2)]
    assert silent_at_site(site[0], site, SHORT) == []
    assert silent_at_site(site[0], site[:1], SHORT) == []  # no other counter


SPIKE_HOUR = (5 * DAY + 11 * 3600, 5 * DAY + 12 * 3600)  # the sixth day, 11:00-12:00


def spiked(raw: Raw, factor: float = 8.0, hour: tuple[float, float] = SPIKE_HOUR) -> Raw:
    values = raw.values.copy()
    values[(raw.times >= hour[0]) & (raw.times < hour[1])] *= factor
    return Raw(raw.dev_eui, raw.channel, raw.times, values)


def test_a_counter_far_above_its_share_of_the_site_is_a_spike_without_weeks_of_history() -> None:
    site = [spiked(shop_counter("a", 12.0, 6, seed=1)), shop_counter("b", 30.0, 6, seed=2),
            shop_counter("c", 20.0, 6, seed=3), shop_counter("d", 25.0, 6, seed=4)]
    [spike] = above_at_site(site[0], site, SHORT, "people in")
    assert spike.kind == "spike"
    assert (spike.start, spike.end) == (SPIKE_HOUR[0], SPIKE_HOUR[1] - 600)
    counted = float(site[0].values[(site[0].times >= SPIKE_HOUR[0]) & (site[0].times < SPIKE_HOUR[1])].sum())
    assert f"people in {counted:,.0f} in the hour from 1970-01-06 11:00 UTC" in spike.reason
    assert spike.score > 1.5  # eight times its share against a bar of four
    # count_events reports it, while the weekly rule alone has no earlier weeks
    assert [e.kind for e in count_events(site[0], "people_in", None, SHORT, neighbours=site)] == ["spike"]
    assert count_events(site[0], "people_in", None, SHORT) == []
    for sound in site[1:]:
        assert above_at_site(sound, site, SHORT, "people in") == []
    # twice its share is a busy hour, not a spike
    busy = [spiked(shop_counter("a", 12.0, 6, seed=1), 2.0), *site[1:]]
    assert above_at_site(busy[0], busy, SHORT, "people in") == []


def test_neighbours_that_fall_silent_or_spike_too_do_not_mislead_the_site_rule() -> None:
    silent = [shop_counter("a", 12.0, 6, seed=1), shop_counter("b", 30.0, 6, seed=2, silent=FLAT),
              shop_counter("c", 20.0, 6, seed=3, silent=FLAT), shop_counter("d", 25.0, 6, seed=4)]
    # two of three neighbours counted nobody: against their sum the sound counter would stand at twice its share
    assert above_at_site(silent[0], silent, SHORT, "people in") == []
    # two counters spiking in the same hour: the third and fourth outvote the other spiking one
    both = [spiked(shop_counter("a", 12.0, 6, seed=1)), spiked(shop_counter("b", 30.0, 6, seed=2)),
            shop_counter("c", 20.0, 6, seed=3), shop_counter("d", 25.0, 6, seed=4)]
    for raw in both[:2]:
        assert [e.start for e in above_at_site(raw, both, SHORT, "people in")] == [SPIKE_HOUR[0]]
    # a side door expected to count a handful in the hour is not judged, eight times that or not
    side = [spiked(shop_counter("a", 0.5, 6, seed=1)), shop_counter("b", 5.0, 6, seed=2),
            shop_counter("c", 5.0, 6, seed=3)]
    assert above_at_site(side[0], side, SHORT, "people in") == []
    alone = shop_counter("a", 12.0, 6, seed=1)
    assert above_at_site(alone, [alone], SHORT, "people in") == []  # no other counter


def test_a_silence_both_rules_see_is_one_stuck_event() -> None:
    weeks = 3 * 7  # three weeks: the weekly rule has two earlier weeks of the slot
    flat = ((weeks - 1) * DAY + 9 * 3600, (weeks - 1) * DAY + 17 * 3600)
    site = [shop_counter("a", 12.0, weeks, seed=1, silent=flat), shop_counter("b", 30.0, weeks, seed=2)]
    context = Context(0.0, weeks * DAY, frozenset(), None, frozenset())
    alone = [e for e in count_events(site[0], "people_in", None, context) if e.kind == "stuck"]
    assert len(alone) == 1
    assert "earlier weeks counted" in alone[0].reason
    events = count_events(site[0], "people_in", None, context, neighbours=site)
    [stuck] = [e for e in events if e.kind == "stuck"]
    assert stuck.began == flat[0]
    assert stuck.end == flat[1] - 600
    assert stuck.start <= alone[0].start  # detected by the site at the latest when the weeks detect it
    assert [e for e in events if e.kind == "seasonal" and e.end >= flat[0] and e.start <= flat[1]] == []


def test_a_spike_both_rules_see_is_one_event() -> None:
    site = [spiked(shop_counter("a", 12.0, 6, seed=1)), shop_counter("b", 30.0, 6, seed=2),
            shop_counter("c", 20.0, 6, seed=3)]
    [spike] = above_at_site(site[0], site, SHORT, "people in")
    weekly = det.Event(SPIKE_HOUR[0] + 600, SPIKE_HOUR[0] + 1200, "seasonal", 2.0, "people in 128 where ...")
    stuck = det.Event(SPIKE_HOUR[0] + 600, SPIKE_HOUR[0] + 1200, "stuck", 2.0, "...")
    assert with_above_at_site([weekly], [spike]) == [weekly]  # the weekly rule's event says it already
    assert with_above_at_site([stuck], [spike]) == det.merge_events([stuck, spike])
    assert with_above_at_site([], [spike]) == [spike]
    assert with_above_at_site([weekly], []) == [weekly]


def ring_road_no2(days: int = 30, seed: int = 8) -> Raw:
    """NO2 at a ring road every 10 min: low at night, rush hours at 7-9 h and 16-18 h, day-to-day weather."""
    rng = np.random.default_rng(seed)
    times = START_DAY * DAY + np.arange(0.0, days * DAY, 600.0)
    hour = (times % DAY) / 3600.0
    rush = np.exp(-((hour - 8.0) ** 2) / 2.0) + np.exp(-((hour - 17.0) ** 2) / 2.0)
    day_factor = np.repeat(np.exp(rng.normal(0.0, 0.08, days)), 144)
    values = (8.0 + 30.0 * rush) * day_factor * np.exp(rng.normal(0.0, 0.05, times.size))
    return Raw("70B3D5E900000001", "", times, np.round(values, 1))


def test_a_value_frozen_for_days_starts_no_drift() -> None:
    raw = ring_road_no2()
    frozen_day = START_DAY * DAY + 24 * DAY
    held = (raw.times >= frozen_day + 8 * 3600.0) & (raw.times < frozen_day + 44 * 3600.0)
    values = raw.values.copy()
    values[held] = values[np.argmax(held)]  # the morning rush hour's value held for a day and a half
    frozen = Raw(raw.dev_eui, "", raw.times, values)
    context = Context(float(raw.times[0]), float(raw.times[-1]) + 600.0, (), None)
    events = level_events(frozen, "no2", get_model("decentlab-dl-ac"), context)
    assert [e.kind for e in events] == ["stuck"]
    assert daily_drift_events(frozen, "no2") != []  # its daily medians alone would start one
    assert daily_drift_events(explained_out(frozen, events), "no2") == []
    assert level_events(raw, "no2", get_model("decentlab-dl-ac"), context) == []


def test_lot_idle_as_long_looks_for_a_bay_of_the_lot_unused_as_long_before_the_detection() -> None:
    event = det.Event(13 * DAY, 15 * DAY, "stuck", 1.2, "", onset=10 * DAY)  # frozen 3 days at its detection
    hourly = np.arange(0.0, 15 * DAY, 3600.0)
    busy = [changes(bay(f"b{i}", list(hourly), [float(k % 2) for k in range(hourly.size)])) for i in range(5)]
    assert not lot_idle_as_long(busy, event)  # ten days of the lot before, every bay changing every hour
    rarely = changes(bay("far", [0.0, DAY, 2 * DAY, 9 * DAY, 15 * DAY], [0.0, 1.0, 0.0, 1.0, 0.0]))
    assert lot_idle_as_long([*busy, rarely], event)  # a far bay stood unused for a week before
    daily = [k * DAY for k in range(12)] + [20 * DAY]
    after = changes(bay("far", daily, [float(k % 2) for k in range(12)] + [0.0]))  # idle from day 11 to day 20
    assert not lot_idle_as_long([*busy, after], event)  # two days of it before the detection: not as long
    young = [changes(bay(f"y{i}", list(hourly[hourly >= 8 * DAY]), [float(k % 2) for k in range(168)]))
             for i in range(5)]
    assert lot_idle_as_long(young, event)  # the lot heard for 2 days before the bay froze: it cannot tell
    assert lot_idle_as_long([], event)


def test_a_bay_without_history_of_its_own_is_stuck_only_if_its_lot_never_idles_as_long() -> None:
    times = np.arange(0.0, 30 * DAY, 1800.0)
    flips = (np.arange(times.size) % 2).astype(np.float64)  # a change at every reading while a bay works
    heard = times >= 10 * DAY  # the bay was installed on day 10, taken once and then stood free until day 18
    frozen = Raw("far", "", times[heard], np.where(times < 18 * DAY, np.where(times < 10.1 * DAY, 1.0, 0.0),
                                                   flips)[heard])
    busy = [Raw(f"b{i}", "", times, flips if i % 2 else 1.0 - flips) for i in range(6)]
    context = Context(10 * DAY, 30 * DAY, (), None)
    model = get_model("nwave-nps405")
    [found] = state_events(frozen, "occupied", model, context, neighbours=[frozen, *busy])
    assert found.kind == "stuck"
    assert found.began == pytest.approx(10.1 * DAY, abs=1800.0)
    idle = Raw("idle", "", times, np.where((times > DAY) & (times < 7 * DAY), 0.0, flips))  # a far bay's week
    assert state_events(frozen, "occupied", model, context, neighbours=[frozen, *busy, idle]) == []
    # a bay frozen after it had worked is judged by its own history: the lot's idle week does not excuse it
    worked = Raw("far", "", times, np.where((times >= 10 * DAY) & (times < 18 * DAY), 0.0, flips))
    assert [e.kind for e in state_events(worked, "occupied", model, context, neighbours=[worked, *busy, idle])] == [
        "stuck"]


def test_one_day_far_off_is_no_drift_two_are() -> None:
    rng = np.random.default_rng(11)
    times = (START_DAY + np.arange(30.0) + 1) * DAY - 1
    medians = 10.0 * np.exp(rng.normal(0.0, 0.05, times.size))
    series = det.Series(times, medians.copy(), DAY, "daily median of co", "mg/m³")
    series.values[20] *= 2.0  # a jam on the ring road all day
    median, spread = det.long_term(series, DAILY)
    assert det.drift_events(series, DAILY, median, spread) == []
    uncapped = replace(DAILY, drift_cap=float("inf"))
    assert [e.kind for e in det.drift_events(series, uncapped, median, spread)] == ["drift"]
    series.values[21] *= 2.0  # and the next day too
    median, spread = det.long_term(series, DAILY)
    [found] = det.drift_events(series, DAILY, median, spread)
    assert (found.onset, found.start) == (times[20], times[21])


def test_a_drift_after_a_smoky_week_is_kept_from_its_own_onset() -> None:
    """The station's own sums rose in a smoky week (its ratio to the town a little, as a ring road's does) and
    stayed up into the sensor's drift a week later: the ratio's second drift, not the first, makes it one.
    """
    town = weather(42, seed=5)
    rng = np.random.default_rng(12)
    others = [daily(town * 20 * np.exp(rng.normal(0, 0.04, 42))), daily(town * 25 * np.exp(rng.normal(0, 0.04, 42)))]
    own = town * 30 * np.exp(rng.normal(0, 0.04, 42))
    own[20:26] *= 1.05  # the smoky days: a little more than the town
    own[32:35] += np.array([10.0, 20.0, 30.0])  # the sensor's drift
    found = drift_record(20, 39, start_day=22)
    times, ratio = town_ratio(daily(own), others)
    confirming = confirmations(found, ratio_drifts(daily(own), others))
    assert len(confirming) >= 2  # the smoky days and the drift
    first = departure_from_town(times, ratio, confirming[0])
    assert first is not None
    assert first[0] < DRIFT_SIGNIFICANCE * first[1]  # the smoky days alone are no drift of the sensor
    kept = judged_drift(found, daily(own), others)
    assert kept is not None
    assert kept.onset >= (START_DAY + 31) * DAY


def test_a_sound_station_between_two_drifting_ones_is_no_drift() -> None:
    """Three stations of a quantity: C drifts, then B; the sound A's own sums fall as their median rises, and
    against C alone its ratio's drift still echoes C's. Over A's own days it moved against C by little.
    """
    town = weather(42, seed=5)
    rng = np.random.default_rng(6)
    a, b, c = (town * level * np.exp(rng.normal(0, 0.04, 42)) for level in (20, 25, 30))
    c[26:29] += np.array([10.0, 20.0, 30.0])
    b[30:33] += np.array([10.0, 20.0, 30.0])
    sound = replace(drift_record(30, 36, start_day=31, direction="downward"), dev_eui="a")
    assert judged_drift(sound, daily(a), [daily(b), daily(c)]) is None
    times, ratio = town_ratio(daily(a), [daily(c)])
    assert confirmed_drift(sound, ratio_drifts(daily(a), [daily(c)])) is not None  # the echo of C's drift
    departure = departure_from_town(times, ratio, sound)
    assert departure is not None
    assert departure[0] < EACH_SIGNIFICANCE * departure[1]
    for dev_eui, own, others, onset in (("b", b, [a, c], 30), ("c", c, [a, b], 26)):
        drift = replace(drift_record(onset, onset + 6, start_day=onset + 1), dev_eui=dev_eui)
        assert judged_drift(drift, daily(own), [daily(o) for o in others]) is not None


def test_a_counter_shut_every_sunday_is_not_stuck_on_sundays() -> None:
    """A shop door shut on Sundays while the street counts: its Sundays have their own share (none)."""
    days = 29  # 1 January 1970 was a Thursday: days 3, 10, 17 and 24 are Sundays
    rng = np.random.default_rng(4)
    door = shop_counter("a", 12.0, days, seed=1)
    sundays = np.floor(door.times / DAY) % 7 == 3
    door.values[sundays] = 0.0
    tuesday = 26 * DAY  # a Tuesday: the door silent 09:00-17:00
    door.values[(door.times >= tuesday + 9 * 3600) & (door.times < tuesday + 17 * 3600)] = 0.0
    street = [Raw(n, "", door.times, rng.poisson(20.0, door.times.size) * ((door.times % DAY) / 3600 >= 8)
                  * ((door.times % DAY) / 3600 < 20)) for n in ("b", "c")]
    site = [door, *street]
    context = Context(0.0, days * DAY, frozenset(), None, frozenset())
    found = [e for e in silent_at_site(door, site, context)]
    assert [math.floor(e.onset / DAY) for e in found] == [26]  # the Tuesday, not one of its Sundays
    assert day_kinds(0, 7).tolist() == [0, 0, 1, 2, 0, 0, 0]  # Thursday to Wednesday


def room_co2(*, works_in_school_holidays: bool, weeks: int = 5, seed: int = 4) -> tuple[Raw, frozenset[date]]:
    """CO2 every 10 minutes in a room busy 08:00-13:00 on working days (UTC), over ``weeks`` from a Monday
    (5 January 1970), with two weeks of school holidays (days 7-20) and a public holiday on day 25 (a Friday);
    the school holidays empty a classroom and leave an office working.
    """
    rng = np.random.default_rng(seed)
    times = 4 * DAY + np.arange(0.0, weeks * 7 * DAY, 600.0)  # day 4 of the epoch is a Monday
    day = ((times - 4 * DAY) // DAY).astype(int)
    hour = (times % DAY) / 3600
    school = (day >= 7) & (day <= 20)
    open_ = (day % 7 < 5) & (day != 25) & (works_in_school_holidays | ~school)
    busy = open_ & (hour >= 8) & (hour < 13)
    values = np.where(busy, 1200.0, 430.0) * rng.lognormal(0.0, 0.05, times.size)
    first = date(1970, 1, 5)
    holidays = frozenset({first + timedelta(days=d) for d in [*range(7, 21), 25]})
    return Raw("room", "", times, np.round(values)), holidays


@pytest.mark.parametrize("works", [True, False])
def test_a_holiday_the_room_worked_through_is_a_usual_day_for_it(works: bool) -> None:
    raw, holidays = room_co2(works_in_school_holidays=works)
    local = raw.times
    on_holiday = det.excluded_mask(local, holidays)
    held = held_as_usual(raw.values, local, on_holiday)
    school_days = ((raw.times - 4 * DAY) // DAY >= 7) & ((raw.times - 4 * DAY) // DAY <= 20)
    workdays = ((raw.times - 4 * DAY) // DAY) % 7 < 5
    assert held[school_days & workdays].all() == works
    assert not held[school_days & ~workdays].any()  # weekends stay holidays
    assert not held[((raw.times - 4 * DAY) // DAY) == 25].any()  # the public holiday closed it: stays one
    assert not held[~on_holiday].any()


@pytest.mark.parametrize("works", [True, False])
def test_a_spike_in_a_room_after_the_school_holidays(works: bool) -> None:
    """Friday of the fifth week has one usual Friday before it (the first week), two of the school holidays
    and a public holiday: an office judges it against the Fridays it worked; a classroom's lessons are not
    compared with the holidays' empty room (and its spike there is not judged, for want of two usual weeks).
    """
    raw, holidays = room_co2(works_in_school_holidays=works)
    context = Context(float(raw.times[0]), float(raw.times[-1]) + 600.0, holidays, None)
    model = get_model("elsys-ers-co2")
    assert weekly_events(raw, "co2", model, context) == []
    friday = 4 * DAY + (4 * 7 + 4) * DAY + 10 * 3600  # 10:00 on the last Friday
    at = int(np.searchsorted(raw.times, friday))
    spiked = Raw(raw.dev_eui, "", raw.times, raw.values.copy())
    spiked.values[at : at + 3] *= 8
    found = weekly_events(spiked, "co2", model, context)
    if works:
        [event] = found
        assert event.start == raw.times[at]
    else:
        assert found == []


def test_a_room_far_above_its_own_range_is_a_spike_without_usual_weeks() -> None:
    """The classroom's spike on the last Friday, which the weekly rule cannot judge (see above), stands at eight
    times a lesson: far above anything the room reached on its usual days before.
    """
    raw, holidays = room_co2(works_in_school_holidays=False)
    context = Context(float(raw.times[0]), float(raw.times[-1]) + 600.0, holidays, None)
    assert beyond_own_range(raw, "co2", context) == []  # lessons after the holidays are no spike
    friday = 4 * DAY + (4 * 7 + 4) * DAY + 10 * 3600
    at = int(np.searchsorted(raw.times, friday))
    spiked = Raw(raw.dev_eui, "", raw.times, raw.values.copy())
    spiked.values[at : at + 3] *= 8
    [event] = beyond_own_range(spiked, "co2", context)
    assert (event.kind, event.start, event.end) == ("spike", raw.times[at], raw.times[at + 2])
    assert "times the 99th percentile of its readings over the 28 days before" in event.reason
    model = get_model("elsys-ers-co2")
    assert [e.kind for e in level_events(spiked, "co2", model, context)] == ["spike"]
    # half again a lesson's level is a busy lesson, not a spike
    busy = Raw(raw.dev_eui, "", raw.times, raw.values.copy())
    busy.values[at : at + 3] *= 1.5
    assert beyond_own_range(busy, "co2", context) == []


def test_a_rooms_range_is_learnt_on_usual_days_only() -> None:
    """Four weeks of school holidays, then lessons: the empty room says nothing of a full one."""
    times = 4 * DAY + np.arange(0.0, 35 * DAY, 600.0)
    day = ((times - 4 * DAY) // DAY).astype(int)
    lessons = (day >= 28) & (day % 7 < 5) & ((times % DAY) / 3600 >= 8) & ((times % DAY) / 3600 < 13)
    rng = np.random.default_rng(6)
    raw = Raw("room", "", times, np.round(np.where(lessons, 1200.0, 430.0) * rng.lognormal(0.0, 0.05, times.size)))
    holidays = frozenset(date(1970, 1, 5) + timedelta(days=d) for d in range(28))
    context = Context(float(times[0]), float(times[-1]) + 600.0, holidays, None)
    assert beyond_own_range(raw, "co2", context) == []  # fewer than seven usual days before: not judged
    assert beyond_own_range(raw, "co2", replace(context, excluded_days=frozenset())) != []


def test_a_rooms_co2_drift_shows_in_its_nights_without_usual_weeks() -> None:
    """The classroom's sensor drifts by 150 ppm a day in the first week after the school holidays: its nights,
    the empty room at outdoor air, rise with the offset, which the daily medians report as a drift whether or
    not the weekly rule has usual weeks to compare the lessons with.
    """
    raw, holidays = room_co2(works_in_school_holidays=False)
    context = Context(float(raw.times[0]), float(raw.times[-1]) + 600.0, holidays, None)
    model = get_model("elsys-ers-co2")
    assert level_events(raw, "co2", model, context) == []
    onset = 4 * DAY + (3 * 7 + 1) * DAY + 7 * 3600  # Tuesday after the holidays, 07:00
    drifting = Raw(raw.dev_eui, "", raw.times, raw.values + np.clip((raw.times - onset) / DAY, 0, 3) * 150.0)
    [drift] = [e for e in level_events(drifting, "co2", model, context) if e.kind == "drift"]
    assert drift.kind == "drift"
    assert "daily median of co2 drifting upward" in drift.reason
    assert onset - DAY <= drift.began <= onset + 2 * DAY


def test_a_drift_through_an_outage_keeps_the_outages_day() -> None:
    """A drift of 8 µg/m³ a day from noon for a day and a half, whose second day lost its first six hours to
    an outage: that day's median is still the drift's, and the first half day alone reaches no alarm.
    """
    raw = ring_road_no2()
    onset = START_DAY * DAY + 24 * DAY + 12 * 3600.0
    drifting = (raw.times >= onset) & (raw.times < onset + 1.5 * DAY)
    drifted = raw.values + np.where(drifting, (raw.times - onset) / DAY * 8.0, 0.0)
    outage = (raw.times >= onset + 0.5 * DAY) & (raw.times < onset + 0.5 * DAY + 6 * 3600.0)
    kept = Raw(raw.dev_eui, "", raw.times[~outage], drifted[~outage])
    [drift] = daily_drift_events(kept, "no2")
    assert "daily median of no2 drifting upward" in drift.reason
    assert onset - DAY <= drift.began <= onset + DAY


def test_a_rooms_departures_while_its_sensor_drifts_are_the_drift() -> None:
    def record(kind: str, first: float, last: float, dev_eui: str = "room", quantity: str = "co2") -> Detection:
        return Detection(dev_eui, quantity, "", kind, first * DAY, first * DAY, last * DAY, 2.0, "...")

    drift = record("drift", 10, 14)
    during = record("seasonal", 12, 12.5)
    before = record("seasonal", 5, 5.5)  # a spike of the week before: its own condition
    elsewhere = record("seasonal", 12, 12.5, dev_eui="office")
    found = [drift, during, before, elsewhere, record("stuck", 12, 13)]
    assert without_drifts_departures(found) == [drift, before, elsewhere, found[-1]]
    assert without_drifts_departures([during, before]) == [during, before]  # no drift kept: they stand


def road_gases(seed: int = 3, days: int = 40) -> dict[str, Raw]:
    """NO2, NO and CO at a ring road every 10 min: the traffic's rush hours and exhaust that the wind and
    inversions of each day thin or trap by half and more (the same for all three), each with its own noise.
    """
    rng = np.random.default_rng(seed)
    times = START_DAY * DAY + np.arange(0.0, days * DAY, 600.0)
    hour = (times % DAY) / 3600.0
    rush = 0.3 + np.exp(-((hour - 8.0) ** 2) / 2.0) + np.exp(-((hour - 17.0) ** 2) / 2.0)
    road = rush * np.repeat(np.exp(rng.normal(0.0, 0.6, days)), 144)

    def noisy(values: np.ndarray) -> np.ndarray:
        return values * np.exp(rng.normal(0.0, 0.05, times.size))

    return {"no2": Raw("G", "", times, np.round(noisy(9.0 + 15.0 * road), 1)),
            "no": Raw("G", "", times, np.round(noisy(2.0 + 22.0 * road), 1)),
            "co": Raw("G", "", times, np.round(noisy(0.2 + 0.25 * road), 3))}


def test_a_no2_drift_within_the_roads_own_range_shows_against_its_no_and_co() -> None:
    gases = road_gases(seed=6)
    no2 = gases["no2"]
    onset = (START_DAY + 30) * DAY + 4 * 3600.0
    drifting = (no2.times >= onset) & (no2.times < onset + 3 * DAY)
    drifted = Raw("G", "", no2.times, no2.values + np.where(drifting, (no2.times - onset) / DAY * 6.0, 0.0))
    by_series = {("G", q, ""): raw for q, raw in gases.items()} | {("G", "no2", ""): drifted}
    # against its own past the road's NO2 varies too much from day to day to tell
    assert [e for e in daily_drift_events(drifted, "no2") if "upward" in e.reason and e.end >= onset] == []
    found = gas_drift_events(drifted, "no2", by_series, ("G", ""))
    assert [e.kind for e in found] == ["drift"]
    assert "daily median of no2 drifting upward against NO and CO of the same station" in found[0].reason
    assert "% above what they predict by their relation over the 14 days up to 2 days before" in found[0].reason
    assert onset - DAY <= found[0].began <= onset + 2 * DAY
    # without the drift nothing, and without one of the partners no test
    assert gas_drift_events(no2, "no2", {("G", q, ""): raw for q, raw in gases.items()}, ("G", "")) == []
    assert gas_drift_events(drifted, "no2", {("G", "no", ""): gases["no"]}, ("G", "")) == []


def test_daily_medians_keep_the_days_with_most_of_their_readings() -> None:
    hours = np.concatenate([np.arange(0.0, 3 * DAY, 3600.0), 3 * DAY + np.arange(0.0, 6 * 3600.0, 3600.0)])
    times = START_DAY * DAY + hours
    values = np.arange(times.size, dtype=np.float64)
    medians = daily_medians(Raw("A", "", times, values))
    assert list(medians) == [START_DAY, START_DAY + 1, START_DAY + 2]  # the fourth day has 6 of 24 readings
    assert medians[START_DAY + 1] == pytest.approx(float(np.median(values[24:48])))
