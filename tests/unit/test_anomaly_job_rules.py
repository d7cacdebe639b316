"""The detection job's rules that span devices: drift against the town's other stations, idle car parks."""

from __future__ import annotations

import numpy as np
import pytest

from processing import detect as det
from processing.anomaly_job import DAILY, DAY, Raw, changes, confirmed_drift, idle_share, town_ratio
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
