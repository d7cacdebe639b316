"""From one site's raw series to its processed points: rollups, occupancy, footfall, air quality.

Pure computation: the service (``processing/service.py``) reads the raw window, calls :func:`compute_site` and
writes the points. Outputs cover the intervals from ``start`` (a day boundary) up to ``horizon``; the raw window
begins one day before ``start`` so that the first intervals see the state, the reading and the 24 hours before
them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from devices.catalog import get_model
from devices.registry import DeviceInfo
from processing.airquality import BandTable, PmMean, daily_means, eaqi, hourly_means, pm_running_24h
from processing.counters import counter_bits
from processing.store import BY_NAME, DAY, HOUR, MINUTE, NOT_ROLLED_UP, NS, RESOLUTIONS, Points, Series
from processing.timeseries import F64, Grid, counts_from_totals, rollup, time_weighted

CONTEXT = DAY  # ns of raw data read before the first output interval
HEARTBEAT_GRACE = 1.5  # a bay is unknown after 1.5 heartbeat intervals without an uplink
FOOTFALL_MAX_GAP = 2 * HOUR  # readings of a counter further apart leave a gap
SUMMABLE = {"people_in", "people_out", "motion"}  # quantities whose rollups carry a sum
DIRECTIONS = {"people_in_total": "in", "people_out_total": "out"}
OCCUPANCY_RESOLUTIONS = ("15m", "1h", "1d")
FOOTFALL_RESOLUTIONS = ("15m", "1h", "1d")
AIR = ("pm2_5", "pm10", "no2", "o3")
LIMIT_PM10_DAY, LIMIT_NO2_HOUR = 50.0, 200.0  # µg/m³, Directive 2008/50/EC


@dataclass(frozen=True)
class Site:
    """A site and its registered devices."""

    municipality: str
    site: str
    devices: tuple[DeviceInfo, ...]

    @property
    def key(self) -> str:
        """A stable name of the site (municipality and site)."""
        return f"{self.municipality}\x1f{self.site}"

    def quantities(self) -> set[str]:
        """Every canonical quantity its devices' models can report."""
        return set().union(*(get_model(d.model).quantities for d in self.devices)) if self.devices else set()


@dataclass(frozen=True)
class Options:
    """How results are computed."""

    bands: BandTable
    pm_mean: PmMean = PmMean.HOURLY
    live: bool = True  # write the live lot availability at the horizon


def _grid(start: int, end: int, step: int) -> Grid:
    return Grid(start, step, max(0, -(-(end - start) // step)))


def _device_tags(device: DeviceInfo, channel: str = "") -> dict[str, str]:
    return {"municipality": device.municipality, "site": device.site, "class": device.device_class,
            "model": device.model, "dev_eui": device.dev_eui, "channel": channel}


def _site_tags(site: Site, device_class: str) -> dict[str, str]:
    return {"municipality": site.municipality, "site": site.site, "class": device_class}


def _expected_interval(model: str) -> float:
    spec = get_model(model)
    return float(spec.report_interval or spec.heartbeat_interval)


def compute_site(
    site: Site, raw: Mapping[str, list[Series]], *, start: int, end: int, horizon: int, options: Options
) -> Points:
    """All processed points of one site for the intervals in [start, end) that begin before ``horizon``.

    Args:
        site: the site and its devices.
        raw: quantity → series (tags ``dev_eui``, ``channel``) read from ``start - CONTEXT`` to
            ``end + FOOTFALL_MAX_GAP`` (the readings after ``end`` close the last intervals of the counters).
        start: ns, a day boundary.
        end: ns.
        horizon: ns, nothing is known from here on (now, or the end of a backfill chunk).
        options: band table, PM averaging, live availability.

    Returns:
        The points, with timestamps in seconds (``Points.precision == "s"``).
    """
    devices = {d.dev_eui: d for d in site.devices}
    points = Points(precision="s")  # every point is stamped with an interval's start, a whole second
    for quantity, series_list in raw.items():
        known = [(devices[s.tags["dev_eui"]], s) for s in series_list if s.tags.get("dev_eui") in devices]
        if quantity not in NOT_ROLLED_UP:
            _rollups(points, site, quantity, known, start=start, end=end, horizon=horizon)
        if quantity == "occupied":
            _parking(points, site, known, start=start, end=end, horizon=horizon, live=options.live)
        if quantity in DIRECTIONS:
            _footfall(points, site, quantity, known, start=start, end=end, horizon=horizon)
    _air(points, site, raw, devices, start=start, end=end, horizon=horizon, options=options)
    return points


def _finest_step(model: str) -> int:
    """ns, the resolution a model's rollups must be coarser than: its reporting interval, or a minute for
    event-driven models (a minute of a sensor that reports on events almost always holds one reading, the raw one).
    """
    interval = get_model(model).report_interval
    return interval * NS if interval > 0 else MINUTE


def _rollups(points: Points, site: Site, quantity: str, all_series: list[tuple[DeviceInfo, Series]], *,
             start: int, end: int, horizon: int) -> None:
    """Rollups at each resolution coarser than the device's reporting interval (a finer one would repeat the
    raw readings).
    """
    for resolution in RESOLUTIONS:
        series = [(d, s) for d, s in all_series if resolution.step > _finest_step(d.model)]
        grid = _grid(start, end, resolution.step)
        total = np.zeros(grid.intervals)
        count = np.zeros(grid.intervals, dtype=np.int64)
        low, high = np.full(grid.intervals, np.inf), np.full(grid.intervals, -np.inf)
        coverage = np.zeros(grid.intervals)
        classes = set()
        for device, s in series:
            stats = rollup(s.times, s.values, grid, expected_interval=_expected_interval(device.model))
            tags = _device_tags(device, s.tags.get("channel", ""))
            classes.add(device.device_class)
            idx = np.flatnonzero((stats.count > 0) & (grid.starts() < horizon))
            fields = {"count": stats.count[idx], "mean": stats.mean[idx], "min": stats.min[idx],
                      "max": stats.max[idx], "last": stats.last[idx], "coverage": stats.coverage[idx]}
            if quantity in SUMMABLE:
                fields["sum"] = stats.sum[idx]
            points.add_many(resolution.policy, quantity, tags, grid.starts()[idx], fields)
            count += stats.count
            total += stats.sum
            low, high = np.fmin(low, stats.min), np.fmax(high, stats.max)
            coverage += stats.coverage
        if not series:
            continue
        tags = _site_tags(site, sorted(classes)[0])
        idx = np.flatnonzero((count > 0) & (grid.starts() < horizon))
        site_fields = {"count": count[idx], "mean": total[idx] / count[idx], "min": low[idx], "max": high[idx],
                       "coverage": coverage[idx] / len(series), "series": np.full(idx.size, float(len(series)))}
        if quantity in SUMMABLE:
            site_fields["sum"] = total[idx]
        points.add_many(resolution.policy, f"{quantity}_site", tags, grid.starts()[idx], site_fields)


def _stale(model: str) -> int:
    return int(get_model(model).heartbeat_interval * HEARTBEAT_GRACE * NS)


def _parking(points: Points, site: Site, series: list[tuple[DeviceInfo, Series]], *, start: int, end: int,
             horizon: int, live: bool) -> None:
    bays = [d for d in site.devices if d.device_class == "parking"]
    for name in OCCUPANCY_RESOLUTIONS:
        resolution = BY_NAME[name]
        grid = _grid(start, end, resolution.step)
        known_sum = np.zeros(grid.intervals)
        weighted_sum = np.zeros(grid.intervals)
        for device, s in series:
            known, weighted = time_weighted(s.times, s.values, grid, stale=_stale(device.model), horizon=horizon)
            known_sum += known
            weighted_sum += weighted
            _occupancy_points(points, resolution.policy, "occupancy", _device_tags(device), grid, known, weighted,
                              horizon, {})
        if bays:
            _occupancy_points(points, resolution.policy, "lot_occupancy", _site_tags(site, "parking"), grid,
                              known_sum / len(bays), weighted_sum / len(bays), horizon, {"bays": float(len(bays))})
    if live and bays:
        _availability(points, site, series, bays, horizon)


def _occupancy_points(points: Points, policy: str, measurement: str, tags: dict[str, str], grid: Grid,
                      known: np.ndarray, weighted: np.ndarray, horizon: int, extra: dict[str, float]) -> None:
    idx = np.flatnonzero(grid.starts() < horizon)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(known[idx] > 0, weighted[idx] / known[idx], np.nan)
    fields = {"coverage": known[idx] / grid.step, "occupancy": share}
    fields.update({name: np.full(idx.size, value) for name, value in extra.items()})
    points.add_many(policy, measurement, tags, grid.starts()[idx], fields)


def _availability(points: Points, site: Site, series: list[tuple[DeviceInfo, Series]], bays: list[DeviceInfo],
                  horizon: int) -> None:
    free = occupied = 0
    for device, s in series:
        before = np.flatnonzero(s.times <= horizon)
        if before.size == 0:
            continue
        last = before[-1]
        stale = _stale(device.model)
        if (stale and horizon - s.times[last] > stale) or np.isnan(s.values[last]):
            continue
        if s.values[last] >= 0.5:
            occupied += 1
        else:
            free += 1
    fields = {"free": float(free), "occupied": float(occupied), "unknown": float(len(bays) - free - occupied),
              "capacity": float(len(bays))}
    points.add("", "lot_availability", _site_tags(site, "parking"), fields, horizon - horizon % (60 * NS))


def _footfall(points: Points, site: Site, quantity: str, series: list[tuple[DeviceInfo, Series]], *, start: int,
              end: int, horizon: int) -> None:
    direction = DIRECTIONS[quantity]
    for name in FOOTFALL_RESOLUTIONS:
        resolution = BY_NAME[name]
        grid = _grid(start, end, resolution.step)
        before = grid.starts() < horizon
        total = np.zeros(grid.intervals)
        complete = np.zeros(grid.intervals)
        for device, s in series:
            counts = counts_from_totals(s.times, s.values, grid, max_gap=FOOTFALL_MAX_GAP,
                                        width_bits=counter_bits(device.model))
            tags = {**_device_tags(device, s.tags.get("channel", "")), "direction": direction}
            idx = np.flatnonzero(before)
            points.add_many(resolution.policy, "footfall", tags, grid.starts()[idx],
                            {"count": counts[idx], "complete": (~np.isnan(counts[idx])).astype(float)})
            total += np.nan_to_num(counts)
            complete += ~np.isnan(counts)
        if not series:
            continue
        tags = {**_site_tags(site, "footfall"), "direction": direction}
        idx = np.flatnonzero(before)
        points.add_many(resolution.policy, "footfall_site", tags, grid.starts()[idx], {
            "complete": complete[idx] / len(series), "counters": np.full(idx.size, float(len(series))),
            "count": np.where(complete[idx] > 0, total[idx], np.nan)})


def _air(points: Points, site: Site, raw: Mapping[str, list[Series]], devices: Mapping[str, DeviceInfo], *,
         start: int, end: int, horizon: int, options: Options) -> None:
    stations: dict[str, dict[str, Series]] = {}
    for pollutant in AIR:
        for s in raw.get(pollutant, []):
            if s.tags.get("dev_eui") in devices:
                stations.setdefault(s.tags["dev_eui"], {})[pollutant] = s
    hours = _grid(start - CONTEXT, end, HOUR)
    for dev_eui, by_pollutant in stations.items():
        device = devices[dev_eui]
        hourly = {p: hourly_means(s.times, s.values, hours, expected_interval=_expected_interval(device.model))
                  for p, s in by_pollutant.items()}
        _eaqi_points(points, device, hourly, hours, start=start, horizon=horizon, options=options)
        _limit_points(points, device, hourly, hours, start=start, horizon=horizon)


def _eaqi_points(points: Points, device: DeviceInfo, hourly: dict[str, F64], hours: Grid, *, start: int,
                 horizon: int, options: Options) -> None:
    result = eaqi(hourly, bands=options.bands, pm_mean=options.pm_mean)
    running = {f"{p}_24h": pm_running_24h(hourly[p]) for p in ("pm2_5", "pm10") if p in hourly}
    tags = {**_device_tags(device), "bands": options.bands.name, "pm_mean": options.pm_mean.value}
    starts = hours.starts()
    for k in np.flatnonzero((starts >= start) & (starts < horizon)):
        fields: dict[str, float] = {p: v[k] for p, v in result.values.items()}
        fields.update({name: v[k] for name, v in running.items()})
        if result.index[k] > 0:
            fields["index"] = float(result.index[k])
        points.add(BY_NAME["1h"].policy, "eaqi", tags, fields, int(starts[k]))


def _limit_points(points: Points, device: DeviceInfo, hourly: dict[str, F64], hours: Grid, *, start: int,
                  horizon: int) -> None:
    days = hours.intervals // 24
    day_starts = hours.start + DAY * np.arange(days, dtype=np.int64)
    fields_by_day: list[dict[str, float]] = [{} for _ in range(days)]
    if "pm10" in hourly:
        means = daily_means(hourly["pm10"][: days * 24])
        for k, mean in enumerate(means):
            fields_by_day[k].update({"pm10_mean": mean, "pm10_over_limit": float(mean > LIMIT_PM10_DAY)}
                                    if np.isfinite(mean) else {})
    if "no2" in hourly:
        by_day = hourly["no2"][: days * 24].reshape(days, 24)
        for k, row in enumerate(by_day):
            valid = row[~np.isnan(row)]
            if valid.size:
                fields_by_day[k].update({"no2_max_hour": valid.max(), "no2_valid_hours": float(valid.size),
                                         "no2_hours_over_limit": float((valid > LIMIT_NO2_HOUR).sum())})
    for k, fields in enumerate(fields_by_day):
        if day_starts[k] >= start and day_starts[k] < horizon:
            points.add(BY_NAME["1d"].policy, "air_limits", _device_tags(device), fields, int(day_starts[k]))
