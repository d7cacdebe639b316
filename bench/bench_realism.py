"""Measure how real the simulated town looks: every row of the realism table, simulated next to published.

    .venv/bin/python bench/bench_realism.py                           # 3 Nov 2025 - 28 Feb 2026, seed 1
    .venv/bin/python bench/bench_realism.py --start 2025-11-03 --days 118 --seed 1 --write docs/simulator.md

The simulation runs alone in this process, without servers: the engine's units produce each day's frames, the
device models' own codecs decode them and the catalog's rules normalise them, as ingest would; the radio path
(loss, duplicates) is left out, it changes no rhythm. Weather (wind, rain) is read from the world model, since no
station of the town measures it. The published ranges come from ../shared/reference/DOMAIN.md ("What real towns
look like"); where the source gives a direction but no number, the range below says how it is read.

``--write FILE`` replaces the block between ``<!-- realism:NAME -->`` and ``<!-- /realism:NAME -->`` in FILE
(NAME from ``--label``, default ``after``) with the table, its date, machine and command.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devices.codecs import native_codec
from firmware_sim.engine import Simulation
from firmware_sim.firmware import Unit
from firmware_sim.town import SimDevice, Town, load_town
from firmware_sim.world import Day, make_day
from ingest.normalise import Normaliser

FloatArray = npt.NDArray[np.float64]
HOURS = 24


# --- collecting what the devices send --------------------------------------------------------------------------

@dataclass
class Decoder:
    """Codec + catalog rules of one model, remembering payloads it has seen (many parking frames repeat)."""

    device: SimDevice
    memo: dict[tuple[int, bytes], dict[str, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        entry = self.device.catalog
        self._decode = native_codec(entry.codec).decode
        self._normaliser = Normaliser(entry)

    def __call__(self, f_port: int, payload: bytes) -> dict[str, float]:
        key = (f_port, payload)
        found = self.memo.get(key)
        if found is None:
            result = self._decode(f_port, payload)
            found = {} if result["errors"] else {
                (m.quantity + (f":{m.channel}" if m.channel else "")): m.value
                for m in self._normaliser.normalise(result["data"]).measurements
            }
            if len(self.memo) < 200_000:
                self.memo[key] = found
        return found


@dataclass
class Lot:
    """Parking: status changes per bay, occupancy sampled at every full hour."""

    profile: str
    bays: int
    state: npt.NDArray[np.int8]
    hourly: list[FloatArray] = field(default_factory=list)  # per day: (24, bays) occupied 0/1
    changes: list[FloatArray] = field(default_factory=list)  # per day: (2,) changes per bay: all day, 22-06 h


@dataclass
class Series:
    """One device's decoded readings of one day: (local minute, readings)."""

    minutes: list[float] = field(default_factory=list)
    values: list[dict[str, float]] = field(default_factory=list)

    def column(self, name: str) -> FloatArray:
        return np.array([v.get(name, math.nan) for v in self.values], dtype=np.float64)


@dataclass
class Record:
    """Everything the measurement needs, per day."""

    days: list[Day] = field(default_factory=list)
    lots: dict[str, Lot] = field(default_factory=dict)
    counts: dict[str, list[FloatArray]] = field(default_factory=lambda: defaultdict(list))  # (24,) per day
    counts10: dict[str, list[FloatArray]] = field(default_factory=lambda: defaultdict(list))  # (144,) per day
    air: dict[str, list[Series]] = field(default_factory=lambda: defaultdict(list))
    joins: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))  # device → re-join times
    first_seen: dict[str, float] = field(default_factory=dict)


def _minute(day: Day, t: float) -> float:
    return min(1439.999, max(0.0, (t - day.start) / day.minute_seconds))


def collect(town: Town, *, seed: int, start: date, days: int) -> Record:
    """Run the engine's units day by day and keep what the measurement needs."""
    run_start = datetime.combine(start, datetime.min.time(), tzinfo=town.timezone).timestamp()
    simulation = Simulation(town, seed=seed, run_start=run_start)
    record = Record()
    decoders = {d.dev_eui: Decoder(d) for d in town.devices}
    for n in range(days):
        day = make_day(town, seed, start + timedelta(days=n))
        record.days.append(day)
        for unit in simulation.units:
            frames = unit.frames(day)
            for t, index, _, _, rejoin in frames:
                name = unit.devices[index].name
                record.first_seen.setdefault(name, t)
                if rejoin:
                    record.joins[name].append(t)
            kind = unit.devices[0].kind
            if kind == "parking":
                _parking(record, unit, day, frames, decoders)
            elif kind == "footfall":
                _footfall(record, unit, day, frames, decoders)
            else:
                _air(record, unit, day, frames, decoders)
    return record


def _parking(record: Record, unit: Unit, day: Day, frames: list[Any], decoders: dict[str, Decoder]) -> None:
    site = unit.devices[0].site
    lot = record.lots.get(site)
    if lot is None:
        size = int(unit.devices[0].params["count"])
        lot = record.lots[site] = Lot(str(unit.devices[0].params["profile"]), size, np.full(size, -1, np.int8))
    offset = int(unit.devices[0].params["bay"])
    events = sorted((f[0], f[1], f[2], f[3]) for f in frames if f[2] in (1, 2, 3))
    hourly = np.zeros((HOURS, len(unit.devices)))
    changes = np.zeros((2, len(unit.devices)))
    state = lot.state[offset : offset + len(unit.devices)]
    hour = 0
    for t, index, port, payload in events:
        while hour < HOURS and t >= day.start + hour * 60 * day.minute_seconds:
            hourly[hour] = state == 1
            hour += 1
        if port != 1 and state[index] >= 0:
            continue  # heartbeats and startups only tell the state of a bay not seen yet
        values = decoders[unit.devices[index].dev_eui](port, payload)
        occupied = values.get("occupied")
        if occupied is None:
            continue
        if port == 1:
            changes[0, index] += 1
            minute = _minute(day, t)
            changes[1, index] += minute < 6 * 60 or minute >= 22 * 60
        state[index] = int(occupied > 0.5)
    while hour < HOURS:
        hourly[hour] = state == 1
        hour += 1
    _append(lot, offset, hourly, changes)


def _append(lot: Lot, offset: int, hourly: FloatArray, changes: FloatArray) -> None:
    if offset == 0:
        lot.hourly.append(np.zeros((HOURS, lot.bays)))
        lot.changes.append(np.zeros((2, lot.bays)))
    lot.hourly[-1][:, offset : offset + hourly.shape[1]] = hourly
    lot.changes[-1][:, offset : offset + hourly.shape[1]] = changes


def _footfall(record: Record, unit: Unit, day: Day, frames: list[Any], decoders: dict[str, Decoder]) -> None:
    device = unit.devices[0]
    decode = decoders[device.dev_eui]
    hourly = np.zeros(HOURS)
    tens = np.zeros(144)
    for t, _, port, payload, _ in frames:
        values = decode(port, payload)
        period = sum(v for k, v in values.items() if k.split(":")[0] in ("people_in", "people_out"))
        minute = _minute(day, t - 300)  # the counts of the period that ended at t
        hourly[int(minute // 60)] += period
        tens[int(minute // 10)] += period
    record.counts[device.name].append(hourly)
    record.counts10[device.name].append(tens)


def _air(record: Record, unit: Unit, day: Day, frames: list[Any], decoders: dict[str, Decoder]) -> None:
    device = unit.devices[0]
    decode = decoders[device.dev_eui]
    series = Series()
    for t, _, port, payload, _ in sorted(frames):
        series.minutes.append(_minute(day, t))
        series.values.append(decode(port, payload))
    record.air[device.name].append(series)


# --- the rows ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    """One line of the table: what, simulated, published, and whether the simulated value lies in the range."""

    what: str
    simulated: str
    published: str
    inside: bool | None  # None: no published range to check

    def __post_init__(self) -> None:
        if self.inside is not None:
            object.__setattr__(self, "inside", bool(self.inside))  # numpy booleans print as np.True_


def _corr(a: Iterable[float], b: Iterable[float]) -> float:
    x, y = np.asarray(list(a), dtype=np.float64), np.asarray(list(b), dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.std(x[ok]) == 0 or np.std(y[ok]) == 0:
        return math.nan
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def _christmas(day: Day) -> bool:
    return any(b.name != "market" and "weihnacht" in b.name.lower() for b in day.info.boosts)


def _regular(day: Day) -> bool:
    """A day with no event, no public holiday, outside the Christmas season (market days allowed)."""
    d = day.info.day
    season = (d.month == 11 and d.day >= 20) or d.month == 12 or (d.month == 1 and d.day <= 6)
    return not day.info.holiday and not season and all(b.name == "market" for b in day.info.boosts)


def _town_total(record: Record, index: int) -> FloatArray:
    """Hourly counts of all counters together on day ``index``."""
    total: FloatArray = np.sum([c[index] for c in record.counts.values()], axis=0)
    return total


def _days(record: Record, test: Callable[[Day], bool]) -> list[int]:
    return [i for i, d in enumerate(record.days) if test(d)]


def _mean_profile(series: list[FloatArray], idx: list[int]) -> FloatArray:
    return np.mean([series[i] for i in idx], axis=0) if idx else np.full(HOURS, math.nan)


def footfall_rows(record: Record, town: Town) -> list[Row]:
    """Saturday peak, Saturday vs Tuesday, market locality, Christmas market, 24 Dec, variation."""
    counts = record.counts
    busiest = max(counts, key=lambda name: float(np.sum(counts[name])))
    sats = _days(record, lambda d: d.info.weekday == 5 and _regular(d))
    tues = _days(record, lambda d: d.info.weekday == 1 and _regular(d))
    sat = _mean_profile(counts[busiest], sats)
    peak = int(np.argmax(sat))
    afternoon = sat[14:17].sum() / sat[10:13].sum()
    rows = [
        Row(f"Saturday footfall peak hour, busiest counter ({busiest})", f"{peak} h", "14-16 h", 14 <= peak <= 15),
        Row("Saturday footfall 14-17 h vs 10-13 h, busiest counter", f"{afternoon:.2f}×",
            "≥ 1 (afternoon peak)", bool(afternoon >= 1.0)),
    ]
    everyone = [_town_total(record, i) for i in range(len(record.days))]
    ratio = np.mean([everyone[i][10:20].sum() for i in sats]) / np.mean([everyone[i][10:20].sum() for i in tues])
    rows.append(Row("Saturday vs Tuesday, 10-20 h, all counters", f"{ratio:.2f}×", "about 1.9× (1.6-2.2)",
                    bool(1.6 <= ratio <= 2.2)))
    rows += _market_rows(record, town)
    rows += _christmas_rows(record, busiest)
    rows += _closing_rows(record)
    rows += _variation_rows(record, busiest)
    return rows


def _market_counters(town: Town) -> tuple[str, str]:
    """(a counter on the market square, the station-street counter)."""
    names = [d.name for d in town.devices if d.kind == "footfall"]
    square = next((n for n in names if "marktplatz" in n), names[0])
    station = next((n for n in names if "bahnhof" in n), names[-1])
    return square, station


def _market_rows(record: Record, town: Town) -> list[Row]:
    markets = town.calendar.markets
    if not markets:
        return []
    weekday = min(d for m in markets for d in m.weekdays if d < 5)
    square, station = _market_counters(town)
    on = _days(record, lambda d: d.info.weekday == weekday and _regular(d))
    off = _days(record, lambda d: d.info.weekday in (weekday - 1, weekday + 1) and _regular(d))
    lift, error = {}, {}
    for name in (square, station):
        morning = np.array([c[8:13].sum() for c in record.counts[name]])
        base = float(np.mean(morning[off]))
        lift[name] = float(np.mean(morning[on])) / base - 1
        # standard error of the lift from the day-to-day spread of both groups of days
        error[name] = math.hypot(np.std(morning[on]) / math.sqrt(len(on)), np.std(morning[off]) / math.sqrt(
            len(off))) / base
    inside = lift[square] > 0.15 and abs(lift[station]) < 2 * error[station]
    return [Row("weekly market (market day vs the days around it, 08-13 h; ± standard error)",
                f"{square} {lift[square]:+.0%}, {station} {lift[station]:+.0%} ± {error[station]:.0%}",
                "market square lifted (> +15 %), station street not (within 2 standard errors of 0)", inside)]


def _christmas_rows(record: Record, busiest: str) -> list[Row]:
    counts = [_town_total(record, i) for i in range(len(record.days))]
    xmas = _days(record, _christmas)
    if not xmas:
        return []
    first = record.days[xmas[0]].info.day
    before = _days(record, lambda d: d.info.day < first and d.info.day.month == 11 and not d.info.holiday)
    xmas_work = [i for i in xmas if record.days[i].info.day_type == "workday"]
    before_work = [i for i in before if record.days[i].info.day_type == "workday"]
    evening = np.mean([counts[i][17:21].sum() for i in xmas_work]) / np.mean([counts[i][17:21].sum() for i in
                                                                                 before_work])
    midday = np.mean([counts[i][11:15].sum() for i in xmas_work]) / np.mean([counts[i][11:15].sum() for i in
                                                                               before_work])
    sundays = [i for i in xmas if record.days[i].info.weekday == 6]
    nov_sundays = [i for i in before if record.days[i].info.weekday == 6]
    sunday_lift = np.mean([counts[i].sum() for i in sundays]) / np.mean([counts[i].sum() for i in nov_sundays]) - 1
    totals = [counts[i].sum() for i in range(len(record.days))]
    top = int(np.argmax(totals))
    top_day = record.days[top].info
    saturdays = [i for i in xmas if record.days[i].info.weekday == 5]
    wednesdays = [i for i in xmas if record.days[i].info.weekday == 2]
    sat_vs_wed = np.mean([totals[i] for i in saturdays]) / np.mean([totals[i] for i in wednesdays])
    return [
        Row("Christmas market weekdays vs November weekdays: 17-21 h / 11-15 h", f"×{evening:.2f} / ×{midday:.2f}",
            "evenings far busier (evening lift > 1.5× and > midday lift)", evening > 1.5 and evening > midday),
        Row("Advent Sundays vs November Sundays, whole day", f"{sunday_lift:+.0%}", "+318 % to +561 %",
            3.18 <= sunday_lift <= 5.61),
        Row("Advent Saturday vs Christmas-market Wednesday, whole day", f"{sat_vs_wed:.2f}×",
            "Advent Saturdays busiest (> 1)", sat_vs_wed > 1.0),
        Row("busiest day of the period", f"{top_day.day.isoformat()} ({top_day.day.strftime('%a')})",
            "an Advent Saturday", top_day.weekday == 5 and top in xmas),
    ]


def _closing_rows(record: Record) -> list[Row]:
    counts = [_town_total(record, i) for i in range(len(record.days))]
    work = _days(record, lambda d: d.info.day_type == "workday" and _regular(d))
    normal = np.mean([counts[i][15:20].sum() / counts[i][10:20].sum() for i in work])
    rows = []
    for month_day in ((12, 24), (12, 31)):
        idx = [i for i, d in enumerate(record.days) if (d.info.day.month, d.info.day.day) == month_day]
        if not idx:
            continue
        share = counts[idx[0]][15:20].sum() / counts[idx[0]][10:20].sum()
        rows.append(Row(f"{month_day[1]} Dec: share of 10-20 h counts after 15 h", f"{share:.0%} (normal "
                        f"workday {normal:.0%})", "shops close about 14 h (< 1/3 of a normal day's share)",
                        share < normal / 3))
    return rows


def _variation_rows(record: Record, busiest: str) -> list[Row]:
    series = [_town_total(record, i) for i in range(len(record.days))]  # town-wide
    work = _days(record, lambda d: d.info.weekday in (1, 2, 3) and _regular(d))
    profiles = [series[i][7:21] for i in work]
    pairs = [_corr(a, b) for k, a in enumerate(profiles) for b in profiles[k + 1 :]]
    mean_corr = float(np.nanmean(pairs))
    workdays = _days(record, lambda d: d.info.day_type == "workday" and _regular(d) and d.info.weekday != 2)
    totals = [series[i].sum() for i in workdays]
    rain = [record.days[i].weather.rain for i in workdays]
    r_rain = _corr(rain, totals)
    return [
        Row("footfall: mean correlation of Tue-Thu hourly profiles (07-21 h), all counters", f"{mean_corr:.3f}",
            "more varied than Poisson noise (< 0.99)", mean_corr < 0.99),
        Row("footfall: rain vs daily totals of all counters, regular workdays (r)", f"{r_rain:+.2f}",
            "rain one cause among many (-0.8 < r < 0)", -0.8 < r_rain < 0.0),
    ]


def parking_rows(record: Record) -> list[Row]:
    """On-street turnover, P+R at night, bays within a lot."""
    rows = []
    for site, lot in record.lots.items():
        days = record.days
        if lot.profile == "on_street":
            per_day = np.mean([c[0].mean() for c in lot.changes[1:]])
            night = np.mean([c[1].mean() for c in lot.changes[1:]])
            rows.append(Row(f"on-street bays ({site}): state changes per bay per day, of them 22-06 h",
                            f"{per_day:.1f}, {night:.1f}", "5-15; residents stay overnight (≤ 1 at night)",
                            5 <= per_day <= 15 and night <= 1.0))
        elif lot.profile == "commuter":
            work = [i for i, d in enumerate(days) if d.info.day_type == "workday" and i > 0]
            weekend = [i for i, d in enumerate(days) if d.info.day_type != "workday" and i > 0]
            at3 = [lot.hourly[i][3].mean() for i in work]
            noon_weekend = np.mean([lot.hourly[i][12].mean() for i in weekend])
            noon_work = np.mean([lot.hourly[i][10].mean() for i in work])
            rows.append(Row(f"P+R ({site}) occupied at 03 h on workdays",
                            f"{min(at3):.2f}-{max(at3):.2f} (mean {np.mean(at3):.2f})", "empty overnight (≤ 0.10)",
                            max(at3) <= 0.10))
            rows.append(Row(f"P+R ({site}) occupied at 12 h at weekends vs 10 h on workdays",
                            f"{noon_weekend:.2f} vs {noon_work:.2f}", "empty at weekends (< 1/3 of workdays)",
                            noon_weekend < noon_work / 3))
        elif lot.profile == "centre":
            daytime = np.mean([h[9:19].mean(axis=0) for h in lot.hourly[1:]], axis=0)  # (bays,)
            quarter = max(1, lot.bays // 4)
            near, far = daytime[:quarter].mean(), daytime[-quarter:].mean()
            turnover = np.mean([c[0] for c in lot.changes[1:]], axis=0)
            spread = float(np.std(daytime) / math.sqrt(np.mean(daytime) * (1 - np.mean(daytime)) / (
                len(lot.hourly) * 10)))
            rows.append(Row(f"bays within a lot ({site}): daytime occupancy first vs last quarter of bays; "
                            "changes/day", f"{near:.2f} vs {far:.2f}; {turnover[:quarter].mean():.1f} vs "
                            f"{turnover[-quarter:].mean():.1f}", "entrances busier, upper decks emptier (ratio > 1.2)",
                            near > 1.2 * far))
            rows.append(Row(f"bays within a lot ({site}): spread of bays' occupancy / chance spread",
                            f"{spread:.1f}", "bays differ (> 2)", spread > 2))
    return rows


def _hourly_mean(series: list[Series], idx: list[int], name: str) -> FloatArray:
    out = np.zeros(HOURS)
    n = np.zeros(HOURS)
    for i in idx:
        s = series[i]
        values = s.column(name)
        hours = (np.array(s.minutes) // 60).astype(int)
        ok = np.isfinite(values)
        np.add.at(out, hours[ok], values[ok])
        np.add.at(n, hours[ok], 1)
    return out / np.maximum(n, 1)


def _daily_mean(series: list[Series], name: str) -> FloatArray:
    return np.array([float(np.nanmean(s.column(name))) if s.values else math.nan for s in series])


def air_rows(record: Record, town: Town) -> list[Row]:
    """NO2 at the ring road, PM10 exceedance days, PM vs wind, heating peak."""
    rows = []
    gas = [d.name for d in town.devices if d.model == "decentlab-dl-ac"]
    pm = [d.name for d in town.devices if d.model == "decentlab-dl-pm"]
    traffic = {d.name: float(d.params.get("traffic", 0.5)) for d in town.devices}
    ring = max(gas, key=lambda n: traffic[n])
    work = _days(record, lambda d: d.info.day_type == "workday")
    no2 = _hourly_mean(record.air[ring], work, "no2")
    night_min = float(no2[0:6].min())
    morning = float(no2[7:9].mean())
    evening = float(no2[19:21].mean())
    top = int(np.argmax(no2))
    midday = float(no2[11:15].mean())
    rows.append(Row(f"NO2 at the ring road ({ring}), workdays: 07-09 h / night minimum", f"{morning / night_min:.2f}×",
                    "about 1.7-2× (1.6-2.2)", 1.6 <= morning / night_min <= 2.2))
    rows.append(Row(f"NO2 at the ring road ({ring}), workdays: 19-21 h / 07-09 h; hour of the maximum",
                    f"{evening / morning:.2f}; {top} h", "evening maximum 18-22 h (≥ 1; 18-21 h)",
                    evening >= morning and 18 <= top <= 21))
    rows.append(Row(f"NO2 at the ring road ({ring}), workdays: 11-15 h / the larger peak",
                    f"{midday / max(morning, evening):.2f}", "about 25 % below the peaks (0.65-0.85)",
                    0.65 <= midday / max(morning, evening) <= 0.85))
    winter = [i for i, d in enumerate(record.days) if d.info.day.month in (11, 12, 1, 2)]
    worst = {n: int(np.sum(_daily_mean(record.air[n], "pm10")[winter] > 50)) for n in pm}
    rows.append(Row("PM10 daily mean > 50 µg/m³, Nov-Feb (days per station)",
                    ", ".join(f"{n} {k}" for n, k in worst.items()), "winter episodes happen (≥ 1 at the road, < 35)",
                    0 < max(worst.values()) < 35))
    wind = [record.days[i].weather.wind for i in range(len(record.days))]
    for name in pm:
        daily = _daily_mean(record.air[name], "pm2_5")
        ratio = float(np.nanmean(daily / _daily_mean(record.air[name], "pm10")))
        r = _corr(wind, daily)
        rows.append(Row(f"PM ({name}): daily PM2.5 vs wind (r); PM2.5/PM10", f"{r:+.2f}; {ratio:.2f}",
                        "wind dilutes (r < -0.2); 0.6-0.8 in winter", r < -0.2 and 0.6 <= ratio <= 0.8))
    background = min(pm, key=lambda n: traffic[n])
    cold = _days(record, lambda d: d.weather.temp_mean < 5)
    profile = _hourly_mean(record.air[background], cold, "pm2_5")
    heating = float(profile[18:22].mean() / profile[13:16].mean())
    rows.append(Row(f"PM2.5 at the background station ({background}), cold days: 18-22 h / 13-16 h",
                    f"{heating:.2f}×", "heating adds an evening peak (> 1.2)", heating > 1.2))
    return rows


def _lag1(values: FloatArray) -> float:
    ok = values[np.isfinite(values)]
    return _corr(ok[:-1], ok[1:]) if ok.size > 3 else math.nan


def texture_rows(record: Record, town: Town) -> list[Row]:
    """Autocorrelation of short-term deviations, weather steps at midnight."""
    pm = [d.name for d in town.devices if d.model == "decentlab-dl-pm"]
    gas = [d.name for d in town.devices if d.model == "decentlab-dl-ac"]
    ring = gas[0]
    resid: list[float] = []
    for s in record.air[ring]:
        values = s.column("no2")
        if values.size > 12:
            smooth = np.convolve(values, np.ones(12) / 12, mode="same")
            resid += list((values - smooth)[6:-6])
    r_air = _lag1(np.array(resid))
    busiest = max(record.counts10, key=lambda n: float(np.sum(record.counts10[n])))
    fresid: list[float] = []
    for tens in record.counts10[busiest]:
        day = tens[60:120]  # 10-20 h
        smooth = np.convolve(day, np.ones(12) / 12, mode="same")
        fresid += list(((day - smooth) / np.maximum(smooth, 1))[6:-6])
    r_foot = _lag1(np.array(fresid))
    temps = [(s.minutes, s.column("temperature")) for s in record.air[pm[-1]]]
    steps_midnight = [abs(float(b[1][0]) - float(a[1][-1])) for a, b in pairwise(temps)
                      if a[1].size and b[1].size]
    steps_day = [float(np.nanmean(np.abs(np.diff(t[1])))) for t in temps if t[1].size > 2]
    step_ratio = float(np.mean(steps_midnight) / np.mean(steps_day))
    return [
        Row(f"texture: lag-1 autocorrelation of 10-min deviations from a 2-h mean, NO2 ({ring}) / footfall "
            f"({busiest})", f"{r_air:+.2f} / {r_foot:+.2f}", "autocorrelated (> 0.2)",
            r_air > 0.2 and r_foot > 0.2),
        Row(f"texture: temperature step 23:5x → 00:0x vs a mean 10-min step ({pm[-1]})", f"{step_ratio:.1f}×",
            "weather changes through the day (< 2×)", step_ratio < 2.0),
    ]


def device_rows(record: Record, town: Town) -> list[Row]:
    """When devices join, how often counters and air stations re-join, PM number counts."""
    start = record.days[0].start
    hour = 3600.0
    first_join = {n: ts[0] for n, ts in record.joins.items() if ts}
    at_start = sum(1 for n in first_join if first_join[n] < start + hour and record.first_seen[n] == first_join[n])
    rejoining = {d.name: sum(1 for t in record.joins.get(d.name, []) if t > record.first_seen.get(d.name, start) + 60)
                 for d in town.devices if d.kind in ("footfall", "air")}
    pm = [d.name for d in town.devices if d.model == "decentlab-dl-pm"]
    same = []
    for name in pm:
        for s in record.air[name][:7]:
            for v in s.values:
                numbers = {v.get(k) for k in ("pm2_5_count", "pm4_count", "pm10_count")}
                if None not in numbers:
                    same.append(len(numbers) == 1)
    identical = float(np.mean(same)) if same else math.nan
    return [
        Row("devices joining (frame counter 0) in the first hour of the run", f"{at_start} of {len(town.devices)}",
            "devices already running join when installed or reset (not all at once)", at_start < len(town.devices) / 2),
        Row("re-joins of counters and air stations during the run", f"{sum(rejoining.values())} "
            f"({sum(1 for v in rejoining.values() if v)} of {len(rejoining)} devices)", "now and then (≥ 1)",
            sum(rejoining.values()) >= 1),
        Row("PM number counts: PM2.5, PM4 and PM10 identical in a reading", f"{identical:.0%}",
            "coarse particles add counts (< 50 %)", identical < 0.5),
    ]


# --- output --------------------------------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    lines = ["| what | simulated | published | inside |", "|---|---|---|---|"]
    for row in rows:
        mark = "—" if row.inside is None else ("yes" if row.inside else "**no**")
        lines.append(f"| {row.what} | {row.simulated} | {row.published} | {mark} |")
    return "\n".join(lines)


def write_block(path: Path, label: str, text: str) -> None:
    """Replace the block ``<!-- realism:label -->`` .. ``<!-- /realism:label -->`` in ``path`` (append if absent)."""
    opening, closing = f"<!-- realism:{label} -->", f"<!-- /realism:{label} -->"
    content = path.read_text(encoding="utf-8")
    block = f"{opening}\n{text}\n{closing}"
    if opening in content and closing in content:
        head, rest = content.split(opening, 1)
        _, tail = rest.split(closing, 1)
        content = head + block + tail
    else:
        content = content.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(content, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--town", default="default")
    parser.add_argument("--start", type=date.fromisoformat, default=date(2025, 11, 3))
    parser.add_argument("--days", type=int, default=118, help="118 days: 3 Nov 2025 - 28 Feb 2026")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", type=Path, default=None, help="put the table into this Markdown file")
    parser.add_argument("--label", default="after", help="name of the block in --write's file")
    args = parser.parse_args()
    if args.days < 60:
        parser.error("--days must be at least 60 (the rows compare weeks and seasons)")
    town = load_town(args.town)
    began = time.monotonic()
    record = collect(town, seed=args.seed, start=args.start, days=args.days)
    rows = footfall_rows(record, town) + parking_rows(record) + air_rows(record, town) + texture_rows(record, town)
    rows += device_rows(record, town)
    wall = time.monotonic() - began
    end = args.start + timedelta(days=args.days - 1)
    inside = sum(1 for r in rows if r.inside)
    command = (f"python bench/bench_realism.py --town {args.town} --start {args.start} --days {args.days} "
               f"--seed {args.seed}")
    head = (f"{datetime.now().date().isoformat()}, {platform.machine()}, {os.cpu_count()} CPUs, Python "
            f"{platform.python_version()}; `{command}` ({args.start} – {end}, {wall:.0f} s); "
            f"{inside} of {len(rows)} rows inside the published range.")
    text = head + "\n\n" + table(rows)
    print(text)
    if args.write:
        write_block(args.write, args.label, text)


if __name__ == "__main__":
    main()
