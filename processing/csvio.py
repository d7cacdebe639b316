"""The kernels without a server: exported CSV files in, JSON-ready records out.

Timestamps are ISO-8601 with or without a zone (without means UTC); output times are UTC with ``Z``. Intervals
are aligned to multiples of their length since the epoch (whole hours for ``1h``) and span the file's first to
last timestamp.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from processing.airquality import HOUR, PmMean, eaqi, hourly_means, load_bands
from processing.timeseries import F64, I64, Grid, counts_from_totals, occupancy

NS = 1_000_000_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|d)\s*$", re.IGNORECASE)
_UNIT_NS = {"s": NS, "sec": NS, "m": 60 * NS, "min": 60 * NS, "h": 3600 * NS, "d": 86400 * NS}
EAQI_COLUMNS = ("pm2_5", "pm10", "no2", "o3")
MAX_ROWS = 5_000_000  # a bound on what one file may hold (a year of one sensor at 10 s)


class CsvError(ValueError):
    """A CSV file or an option that cannot be processed, with the file, line and what is wrong."""


def parse_duration(text: str) -> int:
    """``"15m"``, ``"1h"``, ``"90s"``, ``"1d"`` → ns.

    Raises:
        CsvError: not a positive duration with one of the units s, m/min, h, d.
    """
    match = _DURATION.match(text)
    if not match or float(match.group(1)) <= 0:
        raise CsvError(f"{text!r} is not a duration like 30s, 15m, 1h or 1d")
    return round(float(match.group(1)) * _UNIT_NS[match.group(2).lower()])


def parse_time(text: str) -> int:
    """An ISO-8601 timestamp → ns since the epoch; without a zone it is UTC.

    Raises:
        CsvError: not an ISO-8601 timestamp.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise CsvError(f"{text!r} is not an ISO-8601 timestamp") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def format_time(ns: int) -> str:
    """Nanoseconds since the epoch → ``2025-03-08T10:00:00Z`` (fractions of a second only where there are some)."""
    moment = datetime.fromtimestamp(ns // NS, tz=UTC).replace(microsecond=(ns % NS) // 1000)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds").replace("+00:00", "Z")


def _number(text: str, where: str) -> float:
    if not text.strip():
        return math.nan
    try:
        value = float(text)
    except ValueError as exc:
        raise CsvError(f"{where}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise CsvError(f"{where}: {text!r} is not a finite number")
    return value


@dataclass(frozen=True)
class Table:
    """Timestamps (ns) and named float columns (NaN for empty cells), in file order."""

    times: I64
    columns: dict[str, F64]


def read_table(path: Path, columns: tuple[str, ...], *, header_required: bool = False) -> Table:
    """Read ``timestamp,<columns...>``; a first row starting with ``timestamp`` is a header naming the columns.

    Raises:
        CsvError: the file cannot be read, a column is missing, or a cell is not a timestamp or number.
    """
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            return _read_rows(path.name, csv.reader(handle), columns, header_required)
    except OSError as exc:
        raise CsvError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CsvError(f"{path.name}: not a UTF-8 CSV file ({exc})") from exc


def _positions(name: str, header: list[str] | None, columns: tuple[str, ...]) -> list[int]:
    if header is None:
        return list(range(1, len(columns) + 1))
    cells = [c.strip().lower() for c in header]
    missing = [c for c in columns if c not in cells]
    if missing:
        raise CsvError(f"{name}: header lacks the column(s) {', '.join(missing)} (has {', '.join(cells)})")
    return [cells.index(c) for c in columns]


def _read_rows(name: str, rows: Iterable[list[str]], columns: tuple[str, ...], header_required: bool) -> Table:
    times: list[int] = []
    values: list[list[float]] = [[] for _ in columns]
    positions: list[int] | None = None
    for number, row in enumerate(rows, start=1):
        if not row or not "".join(row).strip():
            continue
        if positions is None:
            is_header = row[0].strip().lower() == "timestamp"
            if header_required and not is_header:
                raise CsvError(f"{name}: line 1 must be a header: timestamp,{','.join(columns)}")
            positions = _positions(name, row if is_header else None, columns)
            if is_header:
                continue
        if len(times) >= MAX_ROWS:
            raise CsvError(f"{name}: more than {MAX_ROWS} rows; split the file")
        where = f"{name} line {number}"
        if len(row) <= max(positions):
            raise CsvError(f"{where}: expected {max(positions) + 1} cells, got {len(row)}")
        try:
            times.append(parse_time(row[0]))
        except CsvError as exc:
            raise CsvError(f"{where}: {exc}") from exc
        for slot, position in zip(values, positions, strict=True):
            slot.append(_number(row[position], where))
    if not times:
        raise CsvError(f"{name}: no data rows")
    return Table(np.array(times, dtype=np.int64),
                 {c: np.array(v, dtype=np.float64) for c, v in zip(columns, values, strict=True)})


def _round(value: float) -> float | None:
    return None if math.isnan(value) else round(float(value), 6)


def occupancy_records(table: Table, *, every: int, stale: int = 0) -> list[dict[str, Any]]:
    """Time-weighted occupancy per interval of one bay's events and heartbeats (value 1 occupied, 0 free).

    The state after the last row is not known (the export ends there), so the horizon is the last timestamp.

    Raises:
        CsvError: a value other than 0, 1 or empty.
    """
    states = table.columns["value"]
    bad = ~np.isnan(states) & (states != 0) & (states != 1)
    if bad.any():
        raise CsvError(f"occupancy values must be 1 (occupied), 0 (free) or empty, got {states[bad][0]!r}")
    grid = Grid.covering(int(table.times.min()), int(table.times.max()), every)
    share, coverage = occupancy(table.times, states, grid, stale=stale, horizon=int(table.times.max()))
    return [
        {"start": format_time(s), "end": format_time(s + every), "occupancy": _round(o), "coverage": _round(c)}
        for s, o, c in zip(grid.starts().tolist(), share, coverage, strict=True)
    ]


def footfall_records(
    table: Table, *, every: int, max_gap: int = 0, width_bits: int | None = None
) -> list[dict[str, Any]]:
    """People per interval of one cumulative counter, each increase spread over the time since the last reading.

    Raises:
        CsvError: a negative total.
    """
    totals = table.columns["total"]
    if (totals < 0).any():
        raise CsvError("cumulative totals must not be negative")
    present = table.times[~np.isnan(totals)]
    if present.size == 0:
        raise CsvError("the file has no totals")
    grid = Grid.covering(int(present.min()), int(present.max()), every)
    counts = counts_from_totals(table.times, totals, grid, max_gap=max_gap, width_bits=width_bits)
    return [
        {"start": format_time(s), "end": format_time(s + every), "count": _round(c)}
        for s, c in zip(grid.starts().tolist(), counts, strict=True)
    ]


def reading_interval(times: I64) -> float:
    """Seconds between readings: the median spacing of distinct timestamps (at most an hour)."""
    distinct = np.unique(times)
    if distinct.size < 2:
        return 3600.0
    return float(min(np.median(np.diff(distinct)) / NS, 3600.0))


def eaqi_records(
    table: Table, *, bands: str | None = None, pm_mean: PmMean = PmMean.HOURLY, interval: float | None = None
) -> list[dict[str, Any]]:
    """The EAQI per hour from readings of pm2_5, pm10, no2, o3 at any sub-hourly rate.

    An hourly mean needs 75 % of the readings expected at ``interval`` s (default: the file's median spacing).
    """
    table_bands = load_bands(bands)
    step = interval if interval is not None else reading_interval(table.times)
    grid = Grid.covering(int(table.times.min()), int(table.times.max()) + 1, HOUR)  # the last reading's hour
    hourly = {name: hourly_means(table.times, table.columns[name], grid, expected_interval=step)
              for name in EAQI_COLUMNS}
    result = eaqi(hourly, bands=table_bands, pm_mean=pm_mean)
    return [
        {
            "start": format_time(s),
            "index": int(i) or None,
            "band": table_bands.label(int(i)),
            "pollutant": worst,
            "values": {name: _round(result.values[name][k]) for name in EAQI_COLUMNS},
            "pm_mean": pm_mean.value,
            "bands": table_bands.name,
        }
        for k, (s, i, worst) in enumerate(zip(grid.starts().tolist(), result.index, result.pollutant, strict=True))
    ]


def iter_json_lines(records: list[dict[str, Any]]) -> Iterator[str]:
    """The records as a JSON list, one record per line."""
    yield "["
    for n, record in enumerate(records):
        yield json.dumps(record, ensure_ascii=False) + ("," if n + 1 < len(records) else "")
    yield "]"

