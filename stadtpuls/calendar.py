"""The town's calendar: public holidays, school holidays, the weekly market and yearly events.

The weekly footfall report names the days that change footfall from it, and anomaly detection leaves holidays
and events out of the weeks it compares counts with. A town describes its calendar in a YAML file named by
``STADTPULS_CALENDAR``; nothing reads the simulator. The file has the same form as the ``state`` and
``calendar`` keys of a town file of the simulator (so the simulated town's file serves as its own calendar)::

    state: HE                      # public holidays of this German state
    calendar:
      school_holidays: [{from: "10-06", to: "10-18"}]          # MM-DD, recurring every year
      markets: [{weekdays: [wednesday, saturday], from: "07:00", to: "13:00"}]
      events: [{name: Weihnachtsmarkt, from: "11-27", to: "12-23"}]
      short_days: [{date: "12-24"}, {date: "12-31"}]            # the shops close early
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from stadtpuls.errors import ConfigError
from stadtpuls.holidays import STATES, public_holidays

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_FILE = 1_000_000  # bytes: a calendar file is small



@dataclass(frozen=True, slots=True)
class DayNote:
    """Something on a day that changes footfall: ``kind`` is holiday, school_holiday, market or event."""

    kind: str
    de: str
    en: str

    def name(self, lang: str) -> str:
        """The name in ``de`` or ``en``."""
        return self.de if lang == "de" else self.en


@dataclass(frozen=True, slots=True)
class YearlyWindow:
    """A window of days that recurs every year, ``MM-DD`` to ``MM-DD`` inclusive (may wrap the new year)."""

    start: tuple[int, int]
    end: tuple[int, int]

    def contains(self, day: date) -> bool:
        """Whether ``day`` lies in the window."""
        key = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= key <= self.end
        return key >= self.start or key <= self.end


@dataclass(frozen=True)
class TownCalendar:
    """Public holidays of a state, school holidays, weekly markets and yearly events."""

    state: str = ""
    school_holidays: tuple[YearlyWindow, ...] = ()
    market_days: frozenset[int] = frozenset()  # 0 = Monday
    events: tuple[tuple[str, YearlyWindow], ...] = ()
    short_days: frozenset[tuple[int, int]] = frozenset()  # (month, day) on which the shops close early

    def notes(self, day: date) -> list[DayNote]:
        """What the calendar says about ``day``, holidays first."""
        out = []
        holiday = public_holidays(day.year, self.state).get(day) if self.state else None
        if holiday:
            out.append(DayNote("holiday", *holiday))
        out += [DayNote("event", name, name) for name, window in self.events if window.contains(day)]
        if day.weekday() in self.market_days and holiday is None:
            out.append(DayNote("market", "Wochenmarkt", "weekly market"))
        if any(w.contains(day) for w in self.school_holidays):
            out.append(DayNote("school_holiday", "Schulferien", "school holidays"))
        return out

    def is_holiday(self, day: date) -> bool:
        """Whether ``day`` is a public holiday."""
        return bool(self.state) and day in public_holidays(day.year, self.state)

    def holidays(self, first: date, last: date) -> list[date]:
        """The public and school holidays and the short days from ``first`` to ``last`` (both included)."""
        return [day for day in days_from(first, last)
                if self.is_closed(day) or any(w.contains(day) for w in self.school_holidays)]

    def is_closed(self, day: date) -> bool:
        """Whether the shops are shut on ``day`` for all or part of it: a public holiday or a short day."""
        return self.is_holiday(day) or (day.month, day.day) in self.short_days

    def closed_days(self, first: date, last: date) -> list[date]:
        """The public holidays and short days from ``first`` to ``last`` (both included)."""
        return [day for day in days_from(first, last) if self.is_closed(day)]

    def event_days(self, first: date, last: date) -> list[date]:
        """The days of yearly events from ``first`` to ``last`` (both included)."""
        return [day for day in days_from(first, last) if any(w.contains(day) for _, w in self.events)]


def days_from(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included (none when ``last`` is before ``first``)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def load_calendar(path: Path | None) -> TownCalendar:
    """Read a calendar file (see the module docstring); ``None`` gives an empty calendar.

    Raises:
        ConfigError: the file is missing, too large, not YAML or not of the form above; names file and key.
    """
    if path is None:
        return TownCalendar()
    try:
        if path.stat().st_size > MAX_FILE:
            raise ConfigError(f"calendar {path}: larger than {MAX_FILE} bytes")
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"calendar {path}: {exc}") from exc
    try:
        return _calendar(document if document is not None else {})
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"calendar {path}: {exc}") from exc


def _calendar(document: Any) -> TownCalendar:
    if not isinstance(document, dict):
        raise TypeError("the file must hold a mapping with 'state' and 'calendar'")
    state = str(document.get("state", "") or "")
    if state and state not in STATES:
        raise ValueError(f"state {state!r} is not a German state code ({', '.join(sorted(STATES))})")
    spec = document.get("calendar") or {}
    if not isinstance(spec, dict):
        raise TypeError("'calendar' must be a mapping")
    holidays = tuple(_window(w) for w in spec.get("school_holidays") or [])
    market_days = frozenset(_weekday(d) for m in spec.get("markets") or [] for d in m["weekdays"])
    events = tuple((str(e["name"]), _window(e)) for e in spec.get("events") or [])
    short = frozenset(_month_day(d["date"]) for d in spec.get("short_days") or [])
    return TownCalendar(state=state, school_holidays=holidays, market_days=market_days, events=events,
                        short_days=short)


def _window(spec: Any) -> YearlyWindow:
    if not isinstance(spec, dict):
        raise TypeError(f"a window must be a mapping with 'from' and 'to', got {spec!r}")
    return YearlyWindow(_month_day(spec["from"]), _month_day(spec["to"]))


def _month_day(value: Any) -> tuple[int, int]:
    text = str(value)
    try:
        month, day = (int(part) for part in text.split("-"))
        date(2024, month, day)  # a leap year: 02-29 is a valid recurring day
    except ValueError:
        raise ValueError(f"{text!r} is not a day of the form MM-DD") from None
    return month, day


def _weekday(value: Any) -> int:
    name = str(value).lower()
    if name not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a weekday ({', '.join(WEEKDAYS)})")
    return WEEKDAYS.index(name)
