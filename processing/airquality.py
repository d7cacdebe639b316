"""Air quality: valid hourly and daily means, 24-hour running means, the European Air Quality Index, EU limit
exceedances. The band tables, limits and coverage rules are data (``airquality.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import yaml

from processing.kernels.bands import worst_band
from processing.timeseries import F64, Grid, SeriesError, rollup, running_mean

TABLES_FILE = Path(__file__).with_name("airquality.yaml")
HOUR = 3_600_000_000_000  # ns
DAY = 24 * HOUR
PM = ("pm2_5", "pm10")


class PmMean(StrEnum):
    """How PM concentrations are averaged for the index."""

    HOURLY = "1h"
    RUNNING_24H = "24h"


@dataclass(frozen=True)
class BandTable:
    """One EAQI band table: pollutants, their upper bounds (shape (p, 5), µg/m³) and the six band labels."""

    name: str
    pollutants: tuple[str, ...]
    bounds: F64
    labels: tuple[str, ...]

    def label(self, index: int) -> str | None:
        """The band name of index 1-6, None for 0 (no index)."""
        return self.labels[index - 1] if index > 0 else None


@cache
def _tables() -> dict[str, Any]:
    with TABLES_FILE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def band_names() -> list[str]:
    """The names of the EAQI band tables, e.g. ``["2024", "2017"]``."""
    return list(_tables()["eaqi"]["tables"])


def load_bands(name: str | None = None) -> BandTable:
    """An EAQI band table by name (default: the revised 2024 bands).

    Raises:
        SeriesError: there is no table of that name.
    """
    eaqi = _tables()["eaqi"]
    key = name or str(eaqi["default"])
    if key not in eaqi["tables"]:
        raise SeriesError(f"unknown EAQI band table {key!r}; known: {', '.join(eaqi['tables'])}")
    table: dict[str, list[float]] = eaqi["tables"][key]
    bounds = np.ascontiguousarray(np.array(list(table.values()), dtype=np.float64))
    return BandTable(key, tuple(table), bounds, tuple(eaqi["labels"]))


def coverage_rules() -> dict[str, float]:
    """Validity rules of means: ``hour_share``, ``day_hours``, ``running_24h_hours``."""
    return {k: float(v) for k, v in _tables()["coverage"].items()}


def hourly_means(times: npt.ArrayLike, values: npt.ArrayLike, grid: Grid, *, expected_interval: float) -> F64:
    """Hourly (or any grid's) means that have at least 75 % of their expected readings, NaN otherwise.

    Args:
        times: shape (n,), ns.
        values: shape (n,), NaN missing.
        grid: the intervals (one hour each for hourly means).
        expected_interval: s between readings the station promises (> 0).
    """
    if expected_interval <= 0:
        raise SeriesError(f"expected_interval must be positive, got {expected_interval} s")
    stats = rollup(times, values, grid, expected_interval=expected_interval)
    return np.where(stats.coverage >= coverage_rules()["hour_share"] - 1e-9, stats.mean, np.nan)


def daily_means(hourly: npt.ArrayLike, *, hours_per_day: int = 24) -> F64:
    """Daily means of consecutive hourly means (shape (days*24,) → (days,)), NaN under 18 valid hours."""
    h = np.asarray(hourly, dtype=np.float64)
    if h.ndim != 1 or h.size % hours_per_day:
        raise SeriesError(f"hourly means must be whole days of {hours_per_day} values, got shape {h.shape}")
    days = h.reshape(-1, hours_per_day)
    valid = (~np.isnan(days)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.where(valid[:, None] > 0, days, 0.0), axis=1)
    return np.where(valid >= coverage_rules()["day_hours"], means, np.nan)


def pm_running_24h(hourly: npt.ArrayLike) -> F64:
    """Trailing 24-hour running means of hourly means, NaN with fewer than 18 valid hours in the window."""
    return running_mean(hourly, window=24, min_count=int(coverage_rules()["running_24h_hours"]))


@dataclass(frozen=True)
class Eaqi:
    """The index per hour: ``index`` 1-6 (0 = not enough data), the worst pollutant, the values used."""

    index: npt.NDArray[np.int8]
    pollutant: list[str | None]
    values: dict[str, F64]
    bands: BandTable
    pm_mean: PmMean


def eaqi(hourly: Mapping[str, npt.ArrayLike], *, bands: BandTable, pm_mean: PmMean = PmMean.HOURLY) -> Eaqi:
    """The European Air Quality Index per hour from hourly means of each pollutant.

    The index is the worst band over the pollutants that have a valid value that hour; an hour where none has
    one gets index 0 (no index). With ``pm_mean`` 24h, PM2.5 and PM10 enter as trailing 24-hour running means
    (the series should then start 23 hours before the first hour wanted).

    Args:
        hourly: pollutant name → shape (n,) hourly means in µg/m³ (NaN missing); names of the band table.
        bands: the band table.
        pm_mean: hourly or 24-hour running means for PM.

    Raises:
        SeriesError: a pollutant the table does not know, or series of different lengths.
    """
    unknown = sorted(set(hourly) - set(bands.pollutants))
    if unknown:
        raise SeriesError(f"no EAQI bands for {unknown}; the table {bands.name} has {list(bands.pollutants)}")
    names = [p for p in bands.pollutants if p in hourly]
    used: dict[str, F64] = {}
    for name in names:
        series = np.asarray(hourly[name], dtype=np.float64)
        used[name] = pm_running_24h(series) if pm_mean is PmMean.RUNNING_24H and name in PM else series
    lengths = {v.shape for v in used.values()}
    if len(lengths) > 1:
        raise SeriesError(f"hourly series differ in length: {sorted(lengths)}")
    n = used[names[0]].size if names else 0
    matrix = np.ascontiguousarray(np.column_stack([used[p] for p in names]) if names else np.empty((n, 0)))
    bounds = np.ascontiguousarray(bands.bounds[[bands.pollutants.index(p) for p in names]].reshape(len(names), -1))
    index = np.empty(n, dtype=np.int8)
    worst = np.empty(n, dtype=np.int64)
    worst_band(matrix, bounds, index, worst)
    return Eaqi(index, [names[w] if w >= 0 else None for w in worst], used, bands, pm_mean)


@dataclass(frozen=True)
class Exceedances:
    """EU limit exceedances of one pollutant in one calendar year."""

    pollutant: str
    averaging: str
    limit: float
    allowed: int
    count: int
    valid_means: int

    @property
    def breached(self) -> bool:
        """More exceedances than the directive allows in a year."""
        return self.count > self.allowed


def exceedances(hourly: Mapping[str, npt.ArrayLike]) -> list[Exceedances]:
    """Exceedances of the EU limit values in one year of hourly means starting at midnight.

    Args:
        hourly: pollutant → shape (days*24,) hourly means (NaN where not valid). Pollutants without a limit
            are ignored.
    """
    out = []
    for rule in _tables()["limits"]:
        name = str(rule["pollutant"])
        if name not in hourly:
            continue
        series = np.asarray(hourly[name], dtype=np.float64)
        means = daily_means(series) if rule["averaging"] == "day" else series
        valid = means[~np.isnan(means)]
        count = int((valid > float(rule["limit"])).sum())
        out.append(Exceedances(name, str(rule["averaging"]), float(rule["limit"]), int(rule["allowed"]), count,
                               int(valid.size)))
    return out
