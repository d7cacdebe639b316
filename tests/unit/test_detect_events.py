"""The detection layer: planted anomalies become one event each with a readable reason; clean series give none."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pytest

from processing.detect import (
    COUNT,
    DAY,
    HOUR,
    DetectError,
    Event,
    Series,
    carried_forward,
    detect,
    detect_counter_resets,
    detect_packet_loss,
    detect_pair,
    detect_reference_drift,
    duration,
    iso,
    merge_events,
    number,
    own_spread,
    seasonal_slot,
    slot_label,
    stretches,
)

FloatArray = npt.NDArray[np.float64]
START = 1_748_822_400.0  # 2025-06-02 00:00 UTC, a Monday


def air_quality(days: int = 28, *, every: float = 600.0, seed: int = 1) -> tuple[FloatArray, FloatArray]:
    """PM2.5-like readings: a daily cycle around 20 µg/m³ with noise, rounded to 0.1."""
    rng = np.random.default_rng(seed)
    times = START + np.arange(0.0, days * DAY, every)
    cycle = 20 + 6 * np.sin(2 * np.pi * (times - START) / DAY)
    return times, np.round(cycle + rng.normal(0, 1.5, times.size), 1)


def footfall(weeks: int = 8, *, seed: int = 2) -> tuple[FloatArray, FloatArray]:
    """People per hour: busy shop hours on weekdays, busier Saturdays, quiet Sundays and nights."""
    rng = np.random.default_rng(seed)
    times = START + np.arange(0.0, weeks * 7 * DAY, HOUR)
    hour = ((times - START) % DAY) / HOUR
    weekday = ((times - START) // DAY) % 7
    level = np.where((hour >= 9) & (hour < 19), 300.0, 10.0)
    level = level * np.where(weekday == 5, 1.6, np.where(weekday == 6, 0.3, 1.0))
    return times, rng.poisson(level).astype(np.float64)


def kinds(events: list[Event]) -> list[str]:
    return [event.kind for event in events]


# --- clean series ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_level_series_gives_no_events(seed: int) -> None:
    times, values = air_quality(seed=seed)
    assert detect(times, values, kind="level", name="PM2.5", unit="µg/m³", low=0, high=1000) == []


@pytest.mark.parametrize("seed", [2, 5])
def test_clean_counts_give_no_events(seed: int) -> None:
    times, values = footfall(seed=seed)
    assert detect(times, values, kind="count") == []


def test_empty_and_single_readings_give_no_events() -> None:
    assert detect([], []) == []
    assert detect([START], [5.0]) == []
    assert detect([START, START + 60], [math.nan, math.nan], kind="count") == []


# --- level detectors ------------------------------------------------------------------------------------------


def test_frozen_value_is_one_stuck_event_with_a_reason() -> None:
    times, values = air_quality()
    frozen = (times >= START + 20 * DAY) & (times <= START + 20 * DAY + 9 * HOUR)
    values[frozen] = 12.0
    events = detect(times, values, name="PM2.5", unit="µg/m³")
    assert kinds(events) == ["stuck"]
    stuck = events[0]
    assert stuck.start > START + 20 * DAY
    assert stuck.end == times[frozen][-1]
    assert stuck.reason.startswith("PM2.5 unchanged at 12.0 µg/m³ for 9 h since 2025-06-22 00:00 UTC")
    assert "this sensor normally varies by ±" in stuck.reason
    assert "within an hour" in stuck.reason


def test_spike_is_one_event_at_its_time() -> None:
    times, values = air_quality()
    at = int(np.searchsorted(times, START + 15 * DAY + 3 * HOUR))
    values[at] = 140.0
    events = detect(times, values, name="PM2.5", unit="µg/m³")
    assert kinds(events) == ["spike"]
    assert events[0].start == events[0].end == times[at]
    assert "PM2.5 140.0 µg/m³" in events[0].reason
    assert "far above" in events[0].reason
    assert events[0].score > 1


def test_silence_is_a_gap_that_starts_when_the_reading_was_overdue() -> None:
    times, values = air_quality()
    keep = (times < START + 10 * DAY) | (times >= START + 10 * DAY + 10 * HOUR)
    times, values = times[keep], values[keep]
    events = detect(times, values, interval=600.0)
    assert kinds(events) == ["gap"]
    last_heard = START + 10 * DAY - 600
    assert events[0].start == last_heard + 12 * 600
    assert events[0].end == START + 10 * DAY + 10 * HOUR
    assert events[0].reason.startswith("no reading for 10 h after")


def test_open_silence_is_reported_up_to_now() -> None:
    times, values = air_quality(days=3)
    events = detect(times, values, interval=600.0, now=float(times[-1]) + 6 * HOUR)
    assert kinds(events) == ["gap"]
    assert events[0].end == times[-1] + 6 * HOUR


def test_slow_drift_is_found_by_the_cusum() -> None:
    times, values = air_quality(days=35)
    late = times >= START + 21 * DAY
    values[late] += np.linspace(0, 40, late.sum())  # +40 µg/m³ over two weeks
    events = detect(times, values, name="PM2.5", unit="µg/m³")
    assert "drift" in kinds(events)
    drift = next(event for event in events if event.kind == "drift")
    assert drift.start > START + 21 * DAY
    assert "drifting upward" in drift.reason


def test_drift_against_a_co_located_reference() -> None:
    times, reference = air_quality(days=35, seed=4)
    rng = np.random.default_rng(5)
    values = reference + 2.0 + rng.normal(0, 0.8, times.size)  # a steady offset is not drift
    assert detect_reference_drift(times, values, reference, name="PM2.5", unit="µg/m³") == []
    late = times >= START + 21 * DAY
    values[late] += np.linspace(0, 8, late.sum())  # +8 µg/m³ over two weeks, within the daily cycle's range
    events = detect_reference_drift(times, values, reference, name="PM2.5", unit="µg/m³")
    assert [event.kind for event in events] == ["drift"]
    assert events[0].start > START + 21 * DAY
    assert "usual difference to the co-located reference" in events[0].reason


def test_values_outside_the_plausible_range() -> None:
    times, values = air_quality(days=2)
    values[50:53] = [-5.0, -7.0, -6.0]
    events = detect(times, values, name="PM2.5", unit="µg/m³", low=0, high=1000)
    out = [event for event in events if event.kind == "out_of_range"]
    assert len(out) == 1
    assert out[0].start == times[50]
    assert out[0].end == times[52]
    assert out[0].reason == "PM2.5 at -7.0 µg/m³, below the lowest plausible 0.0 µg/m³ (3 readings)"


# --- counts ---------------------------------------------------------------------------------------------------


def test_counter_stuck_at_zero_in_busy_hours() -> None:
    times, values = footfall()
    saturday = START + 7 * 7 * DAY + 5 * DAY
    dead = (times >= saturday + 8 * HOUR) & (times < saturday + 20 * HOUR)
    values[dead] = 0.0
    events = detect(times, values, kind="count")
    assert kinds(events) == ["stuck"]  # the deviations from earlier Saturdays are part of the same condition
    stuck = events[0]
    assert stuck.start == saturday + 9 * HOUR  # the first busy hour without a count
    assert stuck.end == saturday + 19 * HOUR
    assert stuck.reason.startswith("counter stuck at 0 for 11 h since")
    assert "in hours when earlier weeks counted about" in stuck.reason


def test_a_busy_saturday_is_compared_with_saturdays_not_weekdays() -> None:
    times, values = footfall()
    saturday_noon = START + 6 * 7 * DAY + 5 * DAY + 12 * HOUR
    at = int(np.searchsorted(times, saturday_noon))
    assert detect(times, values, kind="count") == []  # Saturdays' 480 per hour are normal for Saturdays
    values[at] = 1500.0
    events = detect(times, values, kind="count")
    assert kinds(events) == ["seasonal"]
    assert "earlier Saturdays 12:00-13:00 had" in events[0].reason


def test_excluded_days_raise_nothing_and_stay_out_of_the_baseline() -> None:
    times, values = footfall()
    holiday = START + 6 * 7 * DAY  # a Monday
    closed = (times >= holiday) & (times < holiday + DAY)
    values[closed] = 0.0
    assert detect(times, values, kind="count") != []
    assert detect(times, values, kind="count", excluded_days=[date(2025, 7, 14)]) == []


def test_an_event_day_explains_a_crowd_not_a_silent_counter() -> None:
    times, values = footfall()
    market = START + 6 * 7 * DAY + 5 * DAY  # Saturday 19 July 2025
    day = (times >= market) & (times < market + DAY)
    shop_hours = day & (((times - START) % DAY) / HOUR >= 9) & (((times - START) % DAY) / HOUR < 19)
    crowd = values.copy()
    crowd[shop_hours] *= 3.0
    assert set(kinds(detect(times, crowd, kind="count"))) == {"seasonal"}
    assert detect(times, crowd, kind="count", event_days=[date(2025, 7, 19)]) == []  # the crowd is the event's
    silent = values.copy()
    silent[shop_hours] = 0.0
    assert detect(times, silent, kind="count", excluded_days=[date(2025, 7, 19)]) == []
    [stuck] = detect(times, silent, kind="count", event_days=[date(2025, 7, 19)])
    assert stuck.kind == "stuck"
    assert stuck.began == market + 9 * HOUR
    low = values.copy()
    low[shop_hours] = np.round(low[shop_hours] * 0.2)
    events = detect(times, low, kind="count", event_days=[date(2025, 7, 19)])
    assert kinds(events) == ["seasonal"]
    assert market + 9 * HOUR <= events[0].start < market + DAY
    assert "where earlier Saturdays" in events[0].reason


def test_an_event_excuses_a_crowd_only_up_to_its_lift() -> None:
    times, values = footfall()
    market = START + 6 * 7 * DAY + 5 * DAY  # Saturday 19 July 2025
    event = [date(2025, 7, 19)]
    hour = ((times - START) % DAY) / HOUR
    shop_hours = (times >= market) & (times < market + DAY) & (hour >= 9) & (hour < 19)
    crowd = values.copy()
    crowd[shop_hours] = np.round(crowd[shop_hours] * 1.8)  # the event's crowd: a good share more everywhere
    spike = crowd.copy()
    one_hour = shop_hours & (hour >= 12) & (hour < 13)
    spike[one_hour] = np.round(values[one_hour] * 8.0)  # one hour at eight times the week at this counter alone

    def measured(lift: float) -> Callable[[FloatArray], FloatArray]:
        return lambda at: np.where((at >= market) & (at < market + DAY), lift, np.nan)

    # the lift measured elsewhere excuses the crowd, not the spike on top of it
    assert detect(times, crowd, kind="count", event_days=event, event_lift=measured(1.8)) == []
    [found] = detect(times, spike, kind="count", event_days=event, event_lift=measured(1.8))
    assert found.kind == "seasonal"
    assert (found.start, found.end) == (market + 12 * HOUR, market + 12 * HOUR)
    assert "× 1.8 at what the day's event explains" in found.reason
    # measured elsewhere as no lift at all (the others count as usual): the crowd is the counter's own
    assert kinds(detect(times, crowd, kind="count", event_days=event, event_lift=measured(1.0))) == ["seasonal"]
    # not measured: the plain bound of the preset excuses up to ten times the week, so both pass
    assert detect(times, spike, kind="count", event_days=event, event_lift=lambda at: np.full(at.size, np.nan)) == []
    assert detect(times, spike, kind="count", event_days=event) == []
    # a tighter plain bound catches the spike without any measurement
    tight = replace(COUNT, seasonal_event_lift=2.0)
    assert kinds(detect(times, spike, kind="count", settings=tight, event_days=event)) == ["seasonal"]
    assert detect(times, crowd, kind="count", settings=tight, event_days=event) == []
    # an unbounded excuse is the old rule: nothing above the week is reported on the event's day
    free = replace(COUNT, seasonal_event_lift=math.inf)
    assert detect(times, spike, kind="count", settings=free, event_days=event, event_lift=measured(math.nan)) == []
    # without an event day the lift is not asked for and changes nothing
    assert kinds(detect(times, crowd, kind="count", event_lift=measured(5.0))) == ["seasonal"]


def test_an_event_that_began_before_the_counter_had_its_own_spread_is_still_judged() -> None:
    times, values = footfall(weeks=4)
    settings = replace(COUNT, seasonal_own_window=14 * DAY, seasonal_min_weeks=2)
    first = START + 2 * 7 * DAY  # the event fills weeks 3 and 4: no usual day with a baseline before it
    event = [date(2025, 6, 16) + timedelta(days=n) for n in range(14)]
    hour = ((times - START) % DAY) / HOUR
    values[times >= first] = np.round(values[times >= first] * 1.2)  # the event's crowd, a fifth more
    lift = lambda at: np.full(at.size, 1.2)  # noqa: E731 - the others count a fifth more too
    assert detect(times, values, kind="count", settings=settings, event_days=event, event_lift=lift) == []
    spiked = (times >= first + 9 * DAY) & (times < first + 10 * DAY) & (hour >= 12) & (hour < 13)
    values[spiked] *= 8.0  # Wednesday 25 June, 12:00: one hour at eight times its week
    [found] = detect(times, values, kind="count", settings=settings, event_days=event, event_lift=lift)
    assert found.kind == "seasonal"
    assert found.start == first + 9 * DAY + 12 * HOUR


def test_a_holiday_explains_what_it_does_at_the_site_and_no_more() -> None:
    times, values = footfall()
    holiday = START + 6 * 7 * DAY + 2 * DAY  # Wednesday 16 July 2025, a day of the school holidays
    days = [date(2025, 7, 16)]
    hour = ((times - START) % DAY) / HOUR
    shop_hours = (times >= holiday) & (times < holiday + DAY) & (hour >= 9) & (hour < 19)
    quiet = values.copy()
    quiet[shop_hours] = np.round(quiet[shop_hours] * 0.4)  # the holiday: fewer people everywhere
    one_hour = shop_hours & (hour >= 12) & (hour < 13)
    spike = quiet.copy()
    spike[one_hour] = np.round(values[one_hour] * 8.0)
    low = quiet.copy()
    low[shop_hours & (hour >= 11) & (hour < 15)] = np.round(values[shop_hours & (hour >= 11) & (hour < 15)] * 0.05)

    def measured(factor: float) -> Callable[[FloatArray], tuple[FloatArray, FloatArray]]:
        def at(when: FloatArray) -> tuple[FloatArray, FloatArray]:
            on = np.where((when >= holiday) & (when < holiday + DAY), factor, np.nan)
            return on / 2.0, on * 2.0
        return at

    assert set(kinds(detect(times, quiet, kind="count"))) == {"seasonal"}  # a usual Wednesday would be wrong
    assert detect(times, quiet, kind="count", excluded_days=days, holiday_range=measured(0.4)) == []
    # eight times its week where the others count 0.4 of theirs: beyond what the holiday explains, either way
    [found] = detect(times, spike, kind="count", excluded_days=days, holiday_range=measured(0.4))
    assert found.kind == "seasonal"
    assert (found.start, found.end) == (holiday + 12 * HOUR, holiday + 12 * HOUR)
    assert "at what the holiday explains" in found.reason
    [fallen] = detect(times, low, kind="count", excluded_days=days, holiday_range=measured(0.4))
    assert fallen.kind == "seasonal"
    assert holiday + 11 * HOUR <= fallen.start < holiday + 15 * HOUR
    # what the holiday does is not measured: nothing on it is judged, as before
    assert detect(times, spike, kind="count", excluded_days=days, holiday_range=measured(math.nan)) == []
    assert detect(times, low, kind="count", excluded_days=days) == []


def test_an_event_lift_of_the_wrong_shape_is_refused() -> None:
    times, values = footfall()
    with pytest.raises(DetectError, match="one value per reading"):
        detect(times, values, kind="count", event_days=[date(2025, 7, 19)], event_lift=lambda at: np.ones(3))
    with pytest.raises(DetectError, match="one value per reading"):
        detect(times, values, kind="count", excluded_days=[date(2025, 7, 19)],
               holiday_range=lambda at: (np.ones(3), np.ones(3)))


def test_event_days_stay_out_of_the_baseline() -> None:
    times, values = footfall(weeks=9)
    saturdays = [START + week * 7 * DAY + 5 * DAY for week in range(9)]
    for saturday in saturdays[4:8]:  # a four-week event lifts the Saturdays
        values[(times >= saturday) & (times < saturday + DAY)] *= 4.0
    event = [datetime.fromtimestamp(s, UTC).date() for s in saturdays[4:8]]
    # the first ordinary Saturday after the event: compared with the Saturdays before it, it is usual; compared
    # with a baseline that took in the event's Saturdays it would be far below them
    after = (times >= saturdays[8]) & (times < saturdays[8] + DAY)
    assert [e for e in detect(times, values, kind="count", event_days=event) if e.start >= saturdays[8]] == []
    assert any(times[after][0] <= e.start for e in detect(times, values, kind="count"))


def test_a_drop_late_in_a_weeks_long_event_is_still_judged() -> None:
    times, values = footfall(weeks=9)
    settings = replace(COUNT, seasonal_own_window=14 * DAY)  # judged against the counter's own spread too
    first = START + 6 * 7 * DAY  # a three-week event from Monday 14 July 2025
    event = [date(2025, 7, 14) + timedelta(days=n) for n in range(21)]
    values[(times >= first) & (times < first + 21 * DAY)] *= 1.5
    late = first + 16 * DAY  # Wednesday 30 July: the counter's last usual fortnight lies before the event
    hour = ((times - START) % DAY) / HOUR
    values[(times >= late) & (times < late + DAY) & (hour >= 9) & (hour < 19)] *= 0.1
    events = detect(times, values, kind="count", settings=settings, event_days=event)
    assert kinds(events) == ["seasonal"]
    assert late + 9 * HOUR <= events[0].start < late + DAY


def test_carried_forward_fills_only_where_asked() -> None:
    values = np.array([np.nan, 0.2, np.nan, np.nan, 0.5, np.nan])
    where = np.array([True, False, True, False, False, True])
    filled = carried_forward(values, where)
    np.testing.assert_array_equal(filled, [np.nan, 0.2, 0.2, np.nan, 0.5, 0.5])


def test_counts_keep_their_wall_clock_slot_across_daylight_saving() -> None:
    rng = np.random.default_rng(8)
    berlin = ZoneInfo("Europe/Berlin")
    times = datetime(2025, 2, 17, tzinfo=UTC).timestamp() + np.arange(0.0, 10 * 7 * DAY, HOUR)  # across 30 March
    local_hours = np.array([datetime.fromtimestamp(t, berlin).hour for t in times])
    values = rng.poisson(np.where((local_hours >= 9) & (local_hours < 19), 300.0, 10.0)).astype(np.float64)
    shifted = detect(times, values, kind="count")
    assert shifted
    assert all(event.start > datetime(2025, 3, 30, tzinfo=UTC).timestamp() for event in shifted)
    assert detect(times, values, kind="count", timezone="Europe/Berlin") == []
    with pytest.raises(DetectError, match="unknown time zone"):
        detect(times, values, kind="count", timezone="Mars/Olympus")


def test_negative_counts_are_out_of_range() -> None:
    times, values = footfall(weeks=1)
    values[30] = -3.0
    assert "out_of_range" in kinds(detect(times, values, kind="count"))


# --- pairs ----------------------------------------------------------------------------------------------------


def test_pm25_above_pm10_is_impossible() -> None:
    times = START + np.arange(6) * 600.0
    pm25 = np.array([10.0, 12.0, 40.0, 41.0, 11.0, 9.0])
    pm10 = np.array([20.0, 22.0, 30.0, 31.0, 20.0, math.nan])
    events = detect_pair(times, pm25, pm10)
    assert len(events) == 1
    assert (events[0].start, events[0].end) == (times[2], times[3])
    assert events[0].reason.startswith("PM2.5 (40.0 µg/m³) above PM10 (30.0 µg/m³) at the same station in 2 readings")


# --- input ----------------------------------------------------------------------------------------------------


def test_order_and_duplicates_do_not_matter() -> None:
    times, values = air_quality(days=10)
    values[700] = 150.0
    expected = detect(times, values)
    order = np.random.default_rng(0).permutation(times.size)
    doubled_times = np.concatenate([times[order], times[:50]])
    doubled_values = np.concatenate([values[order], values[:50]])
    assert detect(doubled_times, doubled_values) == expected


@pytest.mark.parametrize(
    ("times", "values", "kind", "message"),
    [
        ([1.0, 2.0], [1.0], "level", "1-D of one length"),
        ([1.0, math.nan], [1.0, 2.0], "level", "timestamp must be finite"),
        ([1.0, 2.0], [1.0, math.inf], "level", "finite numbers"),
        ([1.0, 2.0], [1.0, 2.0], "speed", "unknown kind"),
        ([1.0, 1e15], [1.0, 2.0], "level", "between the years"),
    ],
)
def test_bad_input_is_named(times: list[float], values: list[float], kind: str, message: str) -> None:
    with pytest.raises(DetectError, match=message):
        detect(times, values, kind=kind)


def test_bad_interval_is_named() -> None:
    with pytest.raises(DetectError, match="interval"):
        detect([1.0, 2.0], [1.0, 2.0], interval=0.0)


# --- events and wording ---------------------------------------------------------------------------------------


def test_overlapping_events_of_one_kind_merge_keeping_the_worst_reason() -> None:
    merged = merge_events(
        [
            Event(10, 20, "spike", 1.5, "small"),
            Event(15, 30, "spike", 3.0, "large"),
            Event(40, 50, "spike", 1.1, "later"),
            Event(12, 18, "gap", 2.0, "silent"),
        ]
    )
    assert merged == [
        Event(10, 30, "spike", 3.0, "large"),
        Event(12, 18, "gap", 2.0, "silent"),
        Event(40, 50, "spike", 1.1, "later"),
    ]


def test_stretches_bridge_short_breaks() -> None:
    flags = np.array([0, 1, 1, 0, 1, 0, 0, 0, 1], dtype=bool)
    assert stretches(flags) == [(1, 2), (4, 4), (8, 8)]
    assert stretches(flags, bridge=1) == [(1, 4), (8, 8)]
    assert stretches(np.zeros(3, dtype=bool)) == []


def test_wording() -> None:
    assert [number(x) for x in (12.0, 1234.4, 0.03125, 0.0, math.nan)] == ["12.0", "1,234", "0.0312", "0.0", "unknown"]
    durations = [duration(s) for s in (45, 1200, 9 * HOUR, 2.5 * DAY, 5400, 7 * DAY)]
    assert durations == ["45 s", "20 min", "9 h", "2.5 days", "90 min", "7 days"]
    assert iso(START) == "2025-06-02T00:00:00Z"
    assert iso(START + 0.25) == "2025-06-02T00:00:00.250Z"
    assert seasonal_slot(1800) == 1800
    assert seasonal_slot(3 * HOUR) == 3 * HOUR
    assert seasonal_slot(2 * DAY) == DAY
    assert slot_label(5 * 48 + 28, 1800) == "Saturdays 14:00-14:30"
    assert slot_label(6, DAY) == "Sundays"


def test_packet_loss_and_restart_from_frame_counters() -> None:
    counters = list(range(0, 100))  # every uplink received
    counters += list(range(100, 400, 3))  # two of every three lost
    counters += list(range(400, 500))
    counters += list(range(0, 50))  # the device restarted
    times = START + np.arange(len(counters)) * 600.0
    events = detect_packet_loss(times, counters)
    assert [event.kind for event in events] == ["packet_loss", "restart"]
    loss, restart = events
    assert times[100] <= loss.start <= times[110]
    assert loss.end < times[250]
    assert "uplinks lost up to" in loss.reason
    assert "(67 %)" in loss.reason
    assert restart.start == times[300]
    assert restart.reason.endswith("frame counter back from 499 to 0")
    assert detect_packet_loss(times[:100], counters[:100]) == []


def test_packet_loss_input_is_checked() -> None:
    with pytest.raises(DetectError, match=r"\[0, 65536\)"):
        detect_packet_loss([1.0, 2.0], [5, 70000], modulus=2**16)
    with pytest.raises(DetectError, match="ascending"):
        detect_packet_loss([2.0, 1.0], [5, 6])


# --- the day's level of activity ----------------------------------------------------------------------------

AT_THE_DAYS_LEVEL = replace(COUNT, seasonal_level_window=3 * HOUR)


def test_a_busy_day_is_judged_at_its_own_level_but_a_spike_still_stands_out() -> None:
    times, values = footfall()
    tuesday = START + 7 * 7 * DAY + DAY
    day = (times >= tuesday) & (times < tuesday + DAY)
    busy = values.copy()
    busy[day] = np.round(busy[day] * 1.8)  # fine weather: every hour of the day 80 % busier
    [plain] = detect(times, busy, kind="count")  # against the plain baseline: the whole day
    assert plain.end >= tuesday + 18 * HOUR
    # at the day's level: only the first busy hour, before the day's level is known
    [first] = detect(times, busy, kind="count", settings=AT_THE_DAYS_LEVEL)
    assert first.start == first.end == tuesday + 9 * HOUR
    spike = busy.copy()
    at = int(np.searchsorted(times, tuesday + 17 * HOUR))
    spike[at] *= 8
    events = detect(times, spike, kind="count", settings=AT_THE_DAYS_LEVEL)
    assert kinds(events) == ["seasonal", "seasonal"]
    assert events[1].start == times[at]
    assert "at the day's level so far" in events[1].reason


def test_a_dead_counter_is_still_stuck_at_the_days_level() -> None:
    times, values = footfall()
    saturday = START + 7 * 7 * DAY + 5 * DAY
    values[(times >= saturday + 8 * HOUR) & (times < saturday + 20 * HOUR)] = 0.0
    assert kinds(detect(times, values, kind="count", settings=AT_THE_DAYS_LEVEL)) == ["stuck"]


# --- the counter's own spread -------------------------------------------------------------------------------

WITH_OWN_SPREAD = replace(AT_THE_DAYS_LEVEL, seasonal_threshold=6.0, seasonal_own_window=14 * DAY)


def usual_footfall(weeks: int = 4) -> tuple[FloatArray, FloatArray]:
    """Times every 10 minutes and the usual people per 10 minutes: busy shop hours, busier Saturdays."""
    times = START + np.arange(0.0, weeks * 7 * DAY, 600.0)
    hour = ((times - START) % DAY) / HOUR
    weekday = ((times - START) // DAY) % 7
    return times, np.where((hour >= 9) & (hour < 19), 150.0, 5.0) * np.where(weekday == 5, 1.6, 1.0)


def crowded_footfall(seed: int, *, sigma: float, weeks: int = 4) -> tuple[FloatArray, FloatArray]:
    """People per 10 minutes whose rate wanders by ``sigma`` (log) beyond Poisson noise: crowds, groups."""
    rng = np.random.default_rng(seed)
    times, rate = usual_footfall(weeks)
    rate = rate * rng.lognormal(-sigma * sigma / 2, sigma, times.size)
    return times, rng.poisson(rate).astype(np.float64)


def test_own_spread_is_what_counting_noise_does_not_explain() -> None:
    times, values = crowded_footfall(1, sigma=0.18)
    _, poisson = crowded_footfall(1, sigma=0.0)
    _, expected = usual_footfall()
    none = np.zeros(times.size, dtype=bool)

    def spread(counts: FloatArray, upto: int | None = None) -> float:
        series = Series(times[:upto], counts[:upto], 600.0, "people", "")
        return float(own_spread(series, WITH_OWN_SPREAD, expected[:upto], none[:upto])[-1])

    assert 0.13 < spread(values) < 0.23  # the wander of 0.18, from the readings alone
    assert spread(poisson) < 0.05  # counting noise alone leaves nothing of its own
    assert math.isnan(spread(values, 10))  # too few readings: not known yet, and no departure is judged


@pytest.mark.parametrize("seed", [2, 3, 5, 7, 8])
def test_a_crowd_is_judged_by_the_counters_own_spread_but_a_spike_still_stands_out(seed: int) -> None:
    times, values = crowded_footfall(seed, sigma=0.18)
    later = times >= START + 22 * DAY  # the counter's own spread is known from its first day with a baseline on
    plain = [e for e in detect(times, values, kind="count", settings=AT_THE_DAYS_LEVEL) if e.start >= times[later][0]]
    assert plain  # Poisson noise and a tenth of the count are too narrow for a count that wanders by a fifth
    assert [e for e in detect(times, values, kind="count", settings=WITH_OWN_SPREAD) if e.start in times[later]] == []
    at = int(np.searchsorted(times, START + 26 * DAY + 12 * HOUR))
    values[at] *= 8
    [spike] = [e for e in detect(times, values, kind="count", settings=WITH_OWN_SPREAD) if e.start in times[later]]
    assert spike.start == times[at]


def test_two_earlier_weeks_make_a_baseline_only_when_allowed() -> None:
    times, values = footfall(weeks=3)
    saturday = START + 2 * 7 * DAY + 5 * DAY  # the third Saturday: two earlier ones
    values[(times >= saturday + 8 * HOUR) & (times < saturday + 20 * HOUR)] = 0.0
    assert detect(times, values, kind="count") == []  # three earlier weeks needed: nothing to compare with
    two = replace(COUNT, seasonal_min_weeks=2)
    [dead] = detect(times, values, kind="count", settings=two)
    assert dead.kind == "stuck"
    assert saturday + 8 * HOUR <= dead.start < saturday + 12 * HOUR


# --- cumulative counters ----------------------------------------------------------------------------------------


def test_a_counter_that_falls_back_was_reset_but_one_that_wraps_was_not() -> None:
    times = START + np.arange(12) * 600.0
    totals = np.array([65_400, 65_450, 65_500, 10, 60, 110, 170, 0, 40, 90, 130, 200], dtype=np.float64)
    totals[9] = np.nan  # a missing reading neither starts nor hides a reset
    events = detect_counter_resets(times, totals, name="people in total")
    assert kinds(events) == ["counter_reset"]  # 65,500 → 10 wrapped a 16-bit counter; 170 → 0 is a reset
    assert events[0].start == times[7]
    assert events[0].onset == times[6]
    assert events[0].reason.startswith("people in total went back from 170 to 0 between")
    big = np.array([1_500_000, 1_500_100, 0, 80], dtype=np.float64)
    assert kinds(detect_counter_resets(times[:4], big)) == ["counter_reset"]
    assert detect_counter_resets(times[:4], np.array([1.0, 2.0, 3.0, 4.0])) == []


def test_counter_totals_input_is_checked() -> None:
    with pytest.raises(DetectError, match="must lie in"):
        detect_counter_resets([1.0, 2.0], [5.0, -1.0])
    with pytest.raises(DetectError, match="ascending"):
        detect_counter_resets([2.0, 1.0], [5.0, 6.0])


# --- a short history with a fortnight of holidays in it -----------------------------------------------------


def holiday_fortnight() -> tuple[FloatArray, FloatArray, list[date]]:
    """Five weeks of footfall (hourly) whose second and third weeks are school holidays (about as busy)."""
    times, values = footfall(weeks=5)
    first = datetime.fromtimestamp(START, UTC).date()
    return times, values, [first + timedelta(days=d) for d in range(7, 21)]


def test_a_count_after_a_holiday_fortnight_is_judged_against_the_holiday_weeks_too() -> None:
    times, values, holidays = holiday_fortnight()
    wednesday = START + 4 * 7 * DAY + 2 * DAY  # in the fifth week: two usual Wednesdays before, and two holidays
    at = int(np.searchsorted(times, wednesday + 12 * HOUR))
    plain = replace(AT_THE_DAYS_LEVEL, seasonal_min_weeks=3)  # three earlier weeks make a baseline
    assert detect(times, values, kind="count", settings=plain, excluded_days=holidays) == []
    values[at] *= 8
    [found] = detect(times, values, kind="count", settings=plain, excluded_days=holidays)
    assert found.kind == "seasonal"
    assert found.start == times[at]
    # a week later the slot has three usual weeks again: the same spike is found as always
    later = times < START + 5 * 7 * DAY
    assert kinds(detect(times[later], values[later], kind="count", settings=plain)) == ["seasonal"]


def test_without_the_days_level_only_a_holidays_own_readings_take_the_holiday_weeks() -> None:
    """A classroom's CO2 after the school holidays is not compared with the empty room of the holidays."""
    times = START + np.arange(0.0, 5 * 7 * DAY, HOUR)
    hour = ((times - START) % DAY) / HOUR
    weekday = ((times - START) // DAY) % 7
    first = datetime.fromtimestamp(START, UTC).date()
    holidays = [first + timedelta(days=d) for d in range(7, 22)]  # two weeks and the Monday after
    lessons = (hour >= 8) & (hour < 13) & (weekday < 5)
    closed = np.isin(((times - START) // DAY).astype(int), range(7, 22))
    rng = np.random.default_rng(3)
    co2 = np.where(lessons & ~closed, 1200.0, 430.0) + rng.normal(0, 10, times.size)
    weekly = replace(AT_THE_DAYS_LEVEL, seasonal_level_window=0.0, seasonal_min_weeks=3)

    def upward(when: FloatArray) -> tuple[FloatArray, FloatArray]:  # a holiday empties a room, fills none
        return np.zeros(when.size), np.ones(when.size)

    events = detect(times, co2, kind="count", settings=weekly, excluded_days=holidays, holiday_range=upward)
    assert events == []  # the lessons after the holidays have no three usual weeks: not judged
    monday = START + 3 * 7 * DAY  # the Monday after the holidays, still a holiday
    at = int(np.searchsorted(times, monday + 10 * HOUR))
    co2[at] = 3500.0
    [found] = detect(times, co2, kind="count", settings=weekly, excluded_days=holidays, holiday_range=upward)
    assert found.start == times[at]


def test_days_the_shops_were_shut_do_not_fill_a_baseline() -> None:
    """Four weeks of school holidays whose first two Thursdays are public holidays (shops shut, a few people
    about), then a usual week. Every Thursday lacks usual weeks, so holiday weeks fill its baseline; the shut
    Thursdays would make every open one look crowded.
    """
    times, values = footfall(weeks=5)
    first = datetime.fromtimestamp(START, UTC).date()
    holidays = [first + timedelta(days=d) for d in range(28)]
    shut = [first + timedelta(days=3), first + timedelta(days=10)]
    on_shut_days = np.isin(((times - START) // DAY).astype(int), [3, 10])
    values[on_shut_days] = np.round(values[on_shut_days] * 0.03)
    two = replace(AT_THE_DAYS_LEVEL, seasonal_min_weeks=2)
    crying_wolf = detect(times, values, kind="count", settings=two, excluded_days=holidays)
    assert kinds(crying_wolf) == ["seasonal", "seasonal"]  # the open Thursdays in the holidays
    assert all("had 8 ± 18" in e.reason or "had 10 ± 18" in e.reason for e in crying_wolf)
    assert detect(times, values, kind="count", settings=two, excluded_days=holidays, closed_days=shut) == []
    # the first usual Thursday has two open Thursdays before it: a counter at eight times its week is found
    at = int(np.searchsorted(times, START + 31 * DAY + 12 * HOUR))
    values[at] *= 8
    [found] = detect(times, values, kind="count", settings=two, excluded_days=holidays, closed_days=shut)
    assert found.kind == "seasonal"
    assert found.start == times[at]


def test_a_holiday_against_holiday_weeks_is_judged_as_a_usual_day() -> None:
    """Five weeks of summer holidays and nothing else: the holidays are the counter's weeks. A busier day is
    judged at its level, a counter at eight times its week is found.
    """
    times, values = crowded_footfall(3, sigma=0.15, weeks=5)
    first = datetime.fromtimestamp(START, UTC).date()
    holidays = [first + timedelta(days=d) for d in range(5 * 7)]
    settings = replace(WITH_OWN_SPREAD, seasonal_min_weeks=2)
    assert detect(times, values, kind="count", settings=settings, excluded_days=holidays) == []
    tuesday = START + 4 * 7 * DAY + DAY
    busy = values.copy()
    day = (times >= tuesday) & (times < tuesday + DAY)
    busy[day] = np.round(busy[day] * 1.8)  # a fine day: every hour 80 % busier
    assert detect(times, busy, kind="count", settings=settings, excluded_days=holidays) == []
    spike = values.copy()
    hour = (times >= tuesday + 12 * HOUR) & (times < tuesday + 13 * HOUR)
    spike[hour] *= 8
    [found] = detect(times, spike, kind="count", settings=settings, excluded_days=holidays)
    assert found.kind == "seasonal"
    assert tuesday + 12 * HOUR <= found.start < tuesday + 13 * HOUR
    # a count below its holiday weeks is not judged on a holiday (nothing measured what this one does)
    low = values.copy()
    low[hour] = np.round(low[hour] * 0.05)
    assert detect(times, low, kind="count", settings=settings, excluded_days=holidays) == []
