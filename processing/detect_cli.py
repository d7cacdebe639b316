"""``stadtpuls process detect``: the anomaly detectors on a ``timestamp,value`` CSV file, without a server."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import click
import numpy as np

from processing.detect import KINDS, DetectError, Event, detect
from stadtpuls.schema import QUANTITIES

MAX_LINE = 4096  # characters; a longer line is not a reading
MAX_ROWS = 20_000_000  # readings per file (a year at one every 2 s); bounds the memory a file can take


class CsvError(ValueError):
    """The CSV file cannot be read as ``timestamp,value`` rows; the message names the line."""


def read_series(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (seconds since the epoch, UTC) and values of a ``timestamp,value`` CSV file.

    ISO-8601 timestamps with or without a zone (without means UTC); an optional header line; an empty or
    ``nan`` value is a missing reading.

    Raises:
        CsvError: naming the first line that is not a reading.
    """
    times: list[float] = []
    values: list[float] = []
    for line_number, row in _rows(path):
        if len(row) != 2:
            raise CsvError(f"{path}, line {line_number}: expected 2 columns timestamp,value, got {len(row)}")
        stamp, text = row[0].strip(), row[1].strip()
        if line_number == 1 and stamp.lower() == "timestamp":
            continue
        if len(times) >= MAX_ROWS:
            raise CsvError(f"{path}: more than {MAX_ROWS:,} readings; split the file")
        times.append(parse_time(stamp, path, line_number))
        values.append(parse_value(text, path, line_number))
    return np.array(times, dtype=np.float64), np.array(values, dtype=np.float64)


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            for line_number, row in enumerate(csv.reader(handle), start=1):
                if sum(len(cell) for cell in row) > MAX_LINE:
                    raise CsvError(f"{path}, line {line_number}: line longer than {MAX_LINE} characters")
                if row:
                    yield line_number, row
    except UnicodeDecodeError as exc:
        raise CsvError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    except csv.Error as exc:
        raise CsvError(f"{path}: {exc}") from exc


def parse_time(text: str, path: Path, line_number: int) -> float:
    """Seconds since the epoch of an ISO-8601 timestamp; one without a zone is UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CsvError(f"{path}, line {line_number}: {text!r} is not an ISO-8601 timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_value(text: str, path: Path, line_number: int) -> float:
    """A reading's value; empty or ``nan`` is missing (NaN)."""
    if text == "" or text.lower() == "nan":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise CsvError(f"{path}, line {line_number}: value {text!r} is not a number") from None
    if math.isinf(value):
        raise CsvError(f"{path}, line {line_number}: value {text!r} is not finite")
    return value


def detect_file(
    path: Path,
    *,
    kind: str = "level",
    quantity: str | None = None,
    low: float | None = None,
    high: float | None = None,
    excluded_days: tuple[date, ...] = (),
    timezone: str | None = None,
    event_days: tuple[date, ...] = (),
    closed_days: tuple[date, ...] = (),
) -> list[Event]:
    """The events of a ``timestamp,value`` CSV file (see :func:`processing.detect.detect`).

    Raises:
        CsvError: when the file is not a readable series.
        DetectError: when the series cannot be examined.
        KeyError: for an unknown quantity name.
    """
    times, values = read_series(path)
    name: str | None = None
    unit = ""
    if quantity is not None:
        known = QUANTITIES[quantity]
        name, unit = quantity, known.unit
        low = known.low if low is None else low
        high = known.high if high is None else high
    return detect(
        times, values, kind=kind, name=name, unit=unit, low=low, high=high, excluded_days=excluded_days,
        event_days=event_days, timezone=timezone, closed_days=closed_days,
    )


@click.command("detect")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(KINDS), default="level", show_default=True,
              help="level: a measured quantity; count: people or vehicles per interval.")
@click.option("--quantity", help="Canonical quantity name (pm2_5, temperature, ...): its unit and plausible range.")
@click.option("--min", "low", type=float, help="Lowest plausible value (overrides the quantity's).")
@click.option("--max", "high", type=float, help="Highest plausible value (overrides the quantity's).")
@click.option("--exclude-day", "excluded", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A public holiday (YYYY-MM-DD) or another day that explains counts either way: counts "
              "then are not compared. Repeatable.")
@click.option("--event-day", "event_dates", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A day of a known event that brings people (YYYY-MM-DD): counts above their week are excused "
              "up to ten times it, counts below it (a silent counter) are not. Repeatable.")
@click.option("--closed-day", "closed_dates", multiple=True, type=click.DateTime(formats=["%Y-%m-%d"]),
              help="A day the shops are shut for all or part of it (a public holiday, Christmas Eve; YYYY-MM-DD): "
              "excluded like --exclude-day, and never a stand-in for a usual week. Repeatable.")
@click.option("--timezone", help="The town's time zone (Europe/Berlin): counts are compared by its wall-clock "
              "hour of the week and --exclude-day dates are its dates. Default UTC.")
def detect_command(
    file: Path,
    kind: str,
    quantity: str | None,
    low: float | None,
    high: float | None,
    excluded: tuple[datetime, ...],
    event_dates: tuple[datetime, ...],
    closed_dates: tuple[datetime, ...],
    timezone: str | None,
) -> None:
    """Print the anomalies of a timestamp,value CSV FILE as a JSON list of events."""
    if quantity is not None and quantity not in QUANTITIES:
        raise click.BadParameter(f"unknown quantity {quantity!r}", param_hint="--quantity")
    try:
        events = detect_file(
            file, kind=kind, quantity=quantity, low=low, high=high,
            excluded_days=tuple(moment.date() for moment in (*excluded, *closed_dates)), timezone=timezone,
            event_days=tuple(moment.date() for moment in event_dates),
            closed_days=tuple(moment.date() for moment in closed_dates),
        )
    except (CsvError, DetectError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps([event.as_json() for event in events], indent=2, ensure_ascii=False))
