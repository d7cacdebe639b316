"""The detection job's rules that span devices: drift against the town's other stations, idle car parks."""

from __future__ import annotations

import numpy as np
import pytest

from processing import detect as det
from processing.anomaly_job import (
    DAILY,
    DAY,
    Raw,
    changes,
    confirmed_drift,
    idle_share,
    shared_by_site,
    town_ratio,
    week_ratio,
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
