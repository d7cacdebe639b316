"""Grafana's substitutions in InfluxQL queries, done here as Grafana's InfluxDB data source does them.

Used to run a panel's query outside Grafana: by the tests (every panel query must return data) and by the
picture renderer. What Grafana does, and this module repeats:

* ``$timeFilter`` and ``$__timeFilter`` become ``time >= <from>ms and time <= <to>ms`` (epoch milliseconds);
* ``$__interval`` becomes the interval for the range and the panel's data points, rounded to Grafana's steps
  and never below the data source's minimum (``timeInterval``, 1m here); ``$__interval_ms`` is it in ms;
* a template variable that takes several values or "All" is a regular expression: each value regex-escaped,
  several joined as ``(a|b)``, "All" its ``allValue`` (``.*``) unescaped; a single-value variable is the plain
  value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

# Grafana's interval steps (rangeutil roundInterval): below the bound (ms) → the step (ms)
_STEPS: tuple[tuple[int, int], ...] = (
    (10, 1), (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1_500, 1_000), (3_500, 2_000),
    (7_500, 5_000), (12_500, 10_000), (17_500, 15_000), (25_000, 20_000), (45_000, 30_000), (90_000, 60_000),
    (210_000, 120_000), (450_000, 300_000), (750_000, 600_000), (1_050_000, 900_000), (1_500_000, 1_200_000),
    (2_700_000, 1_800_000), (5_400_000, 3_600_000), (9_000_000, 7_200_000), (16_200_000, 10_800_000),
    (32_400_000, 21_600_000), (86_400_000, 43_200_000), (604_800_000, 86_400_000),
    (1_814_400_000, 604_800_000), (3_628_800_000, 2_592_000_000),
)
_YEAR_MS = 31_536_000_000
_UNITS = (("y", _YEAR_MS), ("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000))
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_VARIABLE = re.compile(r"\$(\w+)|\$\{(\w+)\}")
ALL = "$__all"


@dataclass(frozen=True, slots=True)
class Variable:
    """A template variable's definition (as the dashboard has it) and current selection."""

    name: str
    values: Sequence[str]  # the selection; [ALL] for "All"
    multi: bool = True
    include_all: bool = True
    all_value: str | None = ".*"
    options: Sequence[str] = field(default=())  # every value the variable offers (for "All" without all_value)


def round_interval(ms: float) -> int:
    """Grafana's rounding of a raw interval (ms) to its steps."""
    for bound, step in _STEPS:
        if ms < bound:
            return step
    return _YEAR_MS


def format_interval(ms: int) -> str:
    """``60000`` → ``1m``; ``1500`` → ``1500ms`` (Grafana's interval text)."""
    for suffix, size in _UNITS:
        if ms >= size and ms % size == 0:
            return f"{ms // size}{suffix}"
    return f"{ms}ms"


def interval_ms(start: datetime, end: datetime, *, max_data_points: int = 1000, min_interval_ms: int = 60_000) -> int:
    """The ``$__interval`` Grafana computes for a time range and panel width (data points)."""
    raw = (end - start).total_seconds() * 1000 / max_data_points
    return max(round_interval(raw), min_interval_ms)


def escape_regex(value: str) -> str:
    """Escape a value for an InfluxQL regular expression the way Grafana does."""
    return _REGEX_SPECIAL.sub(lambda match: "\\" + match.group(0), value)


def variable_text(variable: Variable) -> str:
    """The text Grafana puts in place of ``$name`` for this selection."""
    values = list(variable.values)
    if not variable.multi and not variable.include_all:
        return values[0] if values else ""
    if values == [ALL]:
        if variable.all_value is not None:
            return variable.all_value
        values = list(variable.options)
    escaped = [escape_regex(value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(query: str, *, start: datetime, end: datetime, variables: Mapping[str, Variable] = {},
               max_data_points: int = 1000, min_interval_ms: int = 60_000) -> str:
    """``query`` with Grafana's macros and template variables replaced, ready for InfluxDB.

    Raises:
        ValueError: the query names a variable that ``variables`` does not define.
    """
    start_ms = int(start.timestamp() * 1000)
    end_ms = int(end.timestamp() * 1000)
    interval = interval_ms(start, end, max_data_points=max_data_points, min_interval_ms=min_interval_ms)
    builtin = {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval": format_interval(interval),
        "__interval_ms": str(interval),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in builtin:
            return builtin[name]
        if name in variables:
            return variable_text(variables[name])
        if name.startswith("tag_"):
            return match.group(0)  # an alias pattern, not a variable
        raise ValueError(f"query uses ${name}, which is neither a Grafana macro nor a variable given: {query}")

    return _VARIABLE.sub(replace, query)


_RELATIVE = re.compile(r"(?:now-)?(\d+)([mhdwy])")
_STEP = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1),
         "y": timedelta(days=365)}


def _duration(text: str) -> timedelta:
    match = _RELATIVE.fullmatch(text)
    if match is None:
        raise ValueError(f"unsupported relative time {text!r} (expected e.g. now-7d, 7d, 52w)")
    return int(match.group(1)) * _STEP[match.group(2)]


def panel_range(dashboard: Mapping[str, Any], panel: Mapping[str, Any], *, end: datetime,
                zone: tzinfo) -> tuple[datetime, datetime]:
    """The time range Grafana queries a panel for, its dashboard's default range ending at ``end``.

    A panel's ``timeFrom`` replaces the range's start (``now/y``: the start of the year in ``zone``; ``7d``:
    the last 7 days); its ``timeShift`` (``7d``, ``52w``) moves the whole range that much earlier.

    Raises:
        ValueError: a relative time this module does not know (only ``now-N<unit>``/``N<unit>`` and ``now/y``).
    """
    if dashboard["time"]["to"] != "now":
        raise ValueError(f"dashboards end at now, not {dashboard['time']['to']!r}")
    start = end - _duration(str(dashboard["time"]["from"]))
    time_from = panel.get("timeFrom")
    if time_from == "now/y":
        start = end.astimezone(zone).replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    elif time_from:
        start = end - _duration(str(time_from))
    shift = _duration(str(panel["timeShift"])) if panel.get("timeShift") else timedelta(0)
    return start - shift, end - shift
