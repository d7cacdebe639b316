"""``stadtpuls process anomalies`` refuses bad arguments before it touches a server; job helpers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from devices.catalog import get_model
from processing.anomaly_cli import anomalies_command
from processing.anomaly_job import (
    Context,
    Raw,
    check_shard,
    owns,
    particle_drift_events,
    town_context,
    uplink_events,
    weekly_events,
)
from stadtpuls.calendar import load_calendar
from stadtpuls.errors import ConfigError
from stadtpuls.settings import Settings


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--start", "2025-06-01", "--shard", "2/2"], "0 <= i < n"),
        (["--start", "2025-06-01", "--shard", "x"], "expected i/n"),
        (["--start", "2025-06-02", "--end", "2025-06-01"], "--end must be after --start"),
        (["--start", "yesterday"], "--start"),
    ],
)
def test_bad_arguments_are_named(arguments: list[str], message: str) -> None:
    result = CliRunner().invoke(anomalies_command, arguments)
    assert result.exit_code == 2
    assert message in result.output


def test_every_site_has_exactly_one_owner() -> None:
    sites = [("Musterstadt", f"site {i}") for i in range(50)]
    owners = [[i for i in range(3) if owns(m, s, (i, 3))] for m, s in sites]
    assert all(len(found) == 1 for found in owners)
    assert {found[0] for found in owners} == {0, 1, 2}
    with pytest.raises(ValueError, match="0 <= i < n"):
        check_shard((3, 3))


def test_gap_open_until_heard_again_closed_after() -> None:
    model = get_model("elsys-ers-co2")  # reports every 10 min
    times = np.arange(0.0, 86400.0, 600.0) + 1_750_000_000.0
    context = Context(float(times[0]), float(times[-1]) + 7200.0, (), None)
    raw = Raw("A81758FFFE000001", "", times, np.arange(times.size, dtype=np.float64))
    [gap] = uplink_events(raw, model, context)
    assert gap.kind == "gap"
    assert gap.open
    assert gap.end == context.end
    assert gap.began == times[-1]
    resumed = np.append(times, times[-1] + 7000.0)
    raw = Raw(raw.dev_eui, "", resumed, np.arange(resumed.size, dtype=np.float64))
    [gap] = uplink_events(raw, model, context)
    assert gap.kind == "gap"
    assert not gap.open
    assert gap.end == resumed[-1]


def drifting(rng: np.random.Generator, times: np.ndarray, level: float) -> np.ndarray:
    days = (times - times[0]) / 86400.0
    daily = level + 0.3 * level * np.sin(2 * np.pi * days)
    return np.round(daily + rng.normal(0, 0.1 * level, times.size), 1)


def test_particle_drift_alone_and_against_pm10() -> None:
    rng = np.random.default_rng(11)
    times = 1_750_032_000.0 + np.arange(0, 30 * 86400.0, 600.0)
    pm25, pm10 = drifting(rng, times, 10.0), drifting(rng, times, 16.0)
    ramp = (times >= times[0] + 22 * 86400) & (times < times[0] + 25 * 86400)
    drifted = pm25.copy()
    drifted[ramp] += 8.0 * (times[ramp] - times[ramp][0]) / 86400.0
    smoke = np.where((times >= times[0] + 20 * 86400) & (times < times[0] + 27 * 86400), 2.0, 1.0)
    [drift] = particle_drift_events(Raw("X", "", times, drifted), "pm2_5", {}, ("X", ""))
    assert drift.kind == "drift"
    assert times[0] + 21 * 86400 < drift.began < times[0] + 24 * 86400
    # a smoky week doubles both fractions: against PM10 it is no drift, the sensor's drift in it is
    reference = Raw("X", "", times, np.round(pm10 * smoke, 1))
    smoky = Raw("X", "", times, np.round(pm25 * smoke, 1))
    both = {("X", "pm2_5", ""): smoky, ("X", "pm10", ""): reference}
    assert particle_drift_events(smoky, "pm2_5", both, ("X", "")) == []
    paired = Raw("X", "", times, np.round(drifted * smoke, 1))
    both[("X", "pm2_5", "")] = paired
    found = particle_drift_events(paired, "pm2_5", both, ("X", ""))
    assert [e.kind for e in found] == ["drift"]
    assert times[0] + 21 * 86400 < found[0].began < times[0] + 24 * 86400
    assert "PM2.5's share of PM10 of the same station drifting upward" in found[0].reason
    assert particle_drift_events(reference, "pm10", both, ("X", "")) == []


def classroom(weeks: int = 6, *, seed: int = 5) -> Raw:
    """CO2 of a classroom every 10 min: lessons on weekdays 8-13 h, an empty room otherwise."""
    rng = np.random.default_rng(seed)
    start = 1_748_822_400.0  # Monday 2 June 2025, 00:00 UTC
    times = start + np.arange(0.0, weeks * 7 * 86400.0, 600.0)
    hour = ((times - start) % 86400.0) / 3600.0
    weekday = ((times - start) // 86400.0) % 7
    lessons = (weekday < 5) & (hour >= 8) & (hour < 13)
    values = np.where(lessons, 1200.0, 450.0) + rng.normal(0.0, 25.0, times.size)
    return Raw("A81758FFFE000002", "", times, np.round(values))


def test_an_event_in_the_streets_does_not_excuse_a_classroom_s_co2() -> None:
    raw = classroom()
    thursday = raw.times[0] + 5 * 7 * 86400.0 + 3 * 86400.0  # 10 July 2025
    spike = (raw.times >= thursday + 10 * 3600.0) & (raw.times < thursday + 10.5 * 3600.0)
    values = raw.values.copy()
    values[spike] = 9000.0
    raw = Raw(raw.dev_eui, "", raw.times, values)
    model = get_model("elsys-ers-co2")
    day = date(2025, 7, 10)
    window = (float(raw.times[0]), float(raw.times[-1]) + 600.0)
    as_event = weekly_events(raw, "co2", model, Context(*window, (), None, frozenset({day})))
    assert [e.kind for e in as_event] == ["seasonal"]
    assert thursday + 10 * 3600.0 <= as_event[0].start < thursday + 10.5 * 3600.0


def test_a_holiday_explains_an_empty_classroom_but_no_fuller_one() -> None:
    raw = classroom()
    thursday = raw.times[0] + 5 * 7 * 86400.0 + 3 * 86400.0  # 10 July 2025, a day of the school holidays
    lessons = (raw.times >= thursday + 8 * 3600.0) & (raw.times < thursday + 13 * 3600.0)
    spike = (raw.times >= thursday + 20 * 3600.0) & (raw.times < thursday + 20.5 * 3600.0)
    empty = np.where(lessons, 450.0, raw.values)  # nobody in the lessons' hours
    model = get_model("elsys-ers-co2")
    holiday = Context(float(raw.times[0]), float(raw.times[-1]) + 600.0, frozenset({date(2025, 7, 10)}), None)
    usual = replace(holiday, excluded_days=())
    assert [e.kind for e in weekly_events(Raw(raw.dev_eui, "", raw.times, empty), "co2", model, usual)] == ["seasonal"]
    assert weekly_events(Raw(raw.dev_eui, "", raw.times, empty), "co2", model, holiday) == []
    filled = np.where(spike, 2500.0, empty)  # the empty room's evening at 2,500 ppm
    [found] = weekly_events(Raw(raw.dev_eui, "", raw.times, filled), "co2", model, holiday)
    assert found.kind == "seasonal"
    assert thursday + 20 * 3600.0 <= found.start < thursday + 20.5 * 3600.0
    assert "co2 2,500" in found.reason


def test_event_days_are_named_on_the_command_line() -> None:
    result = CliRunner().invoke(anomalies_command, ["--start", "2025-06-01", "--event-day", "1 June"])
    assert result.exit_code == 2
    assert "--event-day" in result.output


TOWN = Path(__file__).resolve().parents[2] / "firmware_sim" / "towns" / "default.yaml"


def utc(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def test_the_towns_calendar_gives_the_job_its_holidays_and_events(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, calendar=TOWN)
    context = town_context(settings, utc(date(2025, 10, 20)), utc(date(2025, 10, 21)))
    assert context.timezone == "Europe/Berlin"
    # the history read before the window is covered too: German Unity Day and the Hessian autumn holidays
    assert date(2025, 10, 3) in context.excluded_days
    assert {date(2025, 10, 6) + timedelta(days=n) for n in range(13)} <= set(context.excluded_days)
    assert date(2025, 10, 2) not in context.excluded_days
    assert date(2025, 10, 20) not in context.excluded_days
    assert min(context.excluded_days) >= date(2025, 10, 20) - timedelta(days=42)
    assert context.event_days == frozenset()
    advent = town_context(settings, utc(date(2025, 11, 30)), utc(date(2025, 12, 1)), timezone="UTC")
    assert advent.timezone == "UTC"
    assert {date(2025, 11, 27), date(2025, 11, 30), date(2025, 12, 1)} <= set(advent.event_days)
    assert date(2025, 11, 26) not in advent.event_days
    # days given are taken as they are; without a calendar there are none
    given = town_context(settings, utc(date(2025, 10, 20)), utc(date(2025, 10, 21)), excluded_days=(),
                         event_days=[date(2025, 10, 20)])
    assert (given.excluded_days, given.event_days) == (frozenset(), frozenset({date(2025, 10, 20)}))
    assert date(2025, 10, 3) in given.closed_days  # not given: the calendar's
    christmas = town_context(settings, utc(date(2026, 1, 7)), utc(date(2026, 1, 8)))
    assert {date(2025, 12, 24), date(2025, 12, 25), date(2026, 1, 1)} <= set(christmas.closed_days)
    assert date(2025, 12, 29) not in christmas.closed_days  # a school holiday, the shops open
    bare = town_context(Settings(data_dir=tmp_path), utc(date(2025, 10, 20)), utc(date(2025, 10, 21)))
    assert (bare.excluded_days, bare.event_days) == (frozenset(), frozenset())


def test_a_missing_calendar_or_a_wrong_time_zone_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.yaml"):
        town_context(Settings(data_dir=tmp_path, calendar=tmp_path / "nowhere.yaml"), 0.0, 86400.0)
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        Settings(data_dir=tmp_path, timezone="Mars/Olympus")


def test_the_calendar_lists_holidays_and_event_days() -> None:
    calendar = load_calendar(TOWN)
    days = calendar.holidays(date(2025, 12, 20), date(2026, 1, 12))
    assert days[0] == date(2025, 12, 22)
    assert days[-1] == date(2026, 1, 10)
    assert len(days) == 20
    assert calendar.holidays(date(2026, 5, 1), date(2026, 5, 1)) == [date(2026, 5, 1)]  # Labour Day
    assert calendar.holidays(date(2026, 5, 2), date(2026, 5, 1)) == []
    assert calendar.event_days(date(2025, 6, 19), date(2025, 6, 23)) == [date(2025, 6, 20), date(2025, 6, 21),
                                                                        date(2025, 6, 22)]
    # Christmas Eve and New Year's Eve close early: the shops are shut for part of them, as on public holidays
    assert calendar.closed_days(date(2025, 12, 20), date(2026, 1, 12)) == [
        date(2025, 12, 24), date(2025, 12, 25), date(2025, 12, 26), date(2025, 12, 31), date(2026, 1, 1)]
    assert load_calendar(None).closed_days(date(2025, 12, 24), date(2025, 12, 24)) == []


def test_short_days_count_among_the_holidays(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text('state: HE\ncalendar: {short_days: [{date: "12-24", close: "14:00"}]}\n', encoding="utf-8")
    calendar = load_calendar(path)
    assert calendar.holidays(date(2025, 12, 23), date(2025, 12, 26)) == [
        date(2025, 12, 24), date(2025, 12, 25), date(2025, 12, 26)]
    path.write_text('calendar: {short_days: [{date: "12-32"}]}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="12-32"):
        load_calendar(path)
