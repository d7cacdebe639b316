"""Air-quality rules worked out by hand: valid means, the EAQI with either band table, EU limit exceedances."""

from __future__ import annotations

import numpy as np
import pytest

from processing.airquality import (
    HOUR,
    PmMean,
    band_names,
    daily_means,
    eaqi,
    exceedances,
    hourly_means,
    load_bands,
    pm_running_24h,
)
from processing.timeseries import Grid, SeriesError


def test_band_tables_are_data() -> None:
    assert band_names() == ["2024", "2017"]
    revised, older = load_bands(), load_bands("2017")
    assert revised.name == "2024"
    assert revised.bounds[revised.pollutants.index("no2")].tolist() == [10, 25, 60, 100, 150]
    assert older.bounds[older.pollutants.index("pm10")].tolist() == [20, 40, 50, 100, 150]
    assert revised.label(6) == "extremely poor"
    assert revised.label(0) is None
    with pytest.raises(SeriesError, match="unknown EAQI band table"):
        load_bands("1999")


def test_hourly_mean_needs_three_quarters_of_its_readings() -> None:
    minute = 60 * 10**9
    grid = Grid(0, HOUR, 2)
    # every 10 minutes: 6 expected per hour; hour 0 has 5 (83 %), hour 1 has 4 (67 %)
    times = [0, 10, 20, 30, 40, 60, 70, 80, 90]
    means = hourly_means([t * minute for t in times], [1, 2, 3, 4, 5, 10, 10, 10, 10], grid, expected_interval=600)
    assert means[0] == 3.0
    assert np.isnan(means[1])


def test_daily_mean_needs_18_hours() -> None:
    day = np.full(48, np.nan)
    day[:18] = 60.0
    day[24:41] = 60.0  # 17 hours
    means = daily_means(day)
    assert means[0] == 60.0
    assert np.isnan(means[1])


def test_index_is_the_worst_pollutant() -> None:
    hourly = {"pm2_5": [4.0, 20.0, np.nan], "no2": [30.0, 5.0, np.nan], "o3": [np.nan, 200.0, np.nan]}
    result = eaqi(hourly, bands=load_bands())
    assert result.index.tolist() == [3, 6, 0]
    assert result.pollutant == ["no2", "o3", None]
    with pytest.raises(SeriesError, match="no EAQI bands"):
        eaqi({"co": [1.0]}, bands=load_bands())


def test_24h_pm_mean_is_said_and_used() -> None:
    pm10 = np.r_[np.full(23, 10.0), 300.0]
    hourly = eaqi({"pm10": pm10}, bands=load_bands(), pm_mean=PmMean.RUNNING_24H)
    assert hourly.pm_mean is PmMean.RUNNING_24H
    assert hourly.values["pm10"][-1] == pytest.approx((23 * 10 + 300) / 24)
    assert hourly.index[-1] == 2  # 22.1 µg/m³ is fair; the hour alone (300) would be extremely poor
    assert np.isnan(pm_running_24h(pm10)[16])
    assert pm_running_24h(pm10)[17] == 10.0


def test_exceedances_of_a_year() -> None:
    days = 365
    pm10 = np.full(days * 24, 20.0)
    pm10[: 36 * 24] = 60.0  # 36 days above 50: one more than the 35 allowed
    pm10[40 * 24 : 40 * 24 + 10] = np.nan  # a day with 14 valid hours does not count
    pm10[40 * 24 + 10 : 41 * 24] = 500.0
    no2 = np.full(days * 24, 30.0)
    no2[:18] = 250.0  # 18 hours above 200: exactly the allowed number
    found = {e.pollutant: e for e in exceedances({"pm10": pm10, "no2": no2, "o3": no2})}
    assert (found["pm10"].count, found["pm10"].valid_means, found["pm10"].breached) == (36, 364, True)
    assert (found["no2"].count, found["no2"].breached, found["no2"].averaging) == (18, False, "hour")
    assert set(found) == {"pm10", "no2"}
