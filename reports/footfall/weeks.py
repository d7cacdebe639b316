"""ISO weeks and the town's local days: which UTC instants belong to a week, a day and an hour.

A report week is an ISO week (Monday to Sunday) in the town's time zone. Its days are local calendar days, so a
day across a change of daylight saving time has 23 or 25 hours. Comparisons are weekday-aligned: the week before,
and the week of the same ISO number a year earlier (week 52 when that year had no week 53).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from stadtpuls.errors import DataError

BERLIN = ZoneInfo("Europe/Berlin")
NS = 1_000_000_000
HOUR_NS = 3600 * NS
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


class WeekError(DataError, ValueError):
    """A week that is not of the form ``YYYY-Www`` or does not exist."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO week: its ISO year and number (1..53)."""

    year: int
    week: int

    def __post_init__(self) -> None:
        if not 1 <= self.week <= weeks_in_year(self.year):
            raise WeekError(f"{self.year} has no ISO week {self.week} (it has {weeks_in_year(self.year)})")

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    @property
    def monday(self) -> date:
        """The week's first day."""
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def days(self) -> tuple[date, ...]:
        """Monday to Sunday."""
        return tuple(self.monday + timedelta(days=n) for n in range(7))

    def previous(self) -> IsoWeek:
        """The week before."""
        return week_of(self.monday - timedelta(days=7))

    def next(self) -> IsoWeek:
        """The week after."""
        return week_of(self.monday + timedelta(days=7))

    def year_before(self) -> IsoWeek:
        """The week of the same number a year earlier; week 52 when that year has no week 53."""
        return IsoWeek(self.year - 1, min(self.week, weeks_in_year(self.year - 1)))

    def bounds(self, zone: ZoneInfo = BERLIN) -> tuple[int, int]:
        """[start, end) of the week in ns since the epoch: local Monday 00:00 to the next local Monday 00:00."""
        return day_start(self.monday, zone), day_start(self.monday + timedelta(days=7), zone)


def parse_week(text: str) -> IsoWeek:
    """``2026-W47`` → ``IsoWeek(2026, 47)``.

    Raises:
        WeekError: the text is not of that form or the week does not exist.
    """
    found = _WEEK.match(text.strip())
    if found is None:
        raise WeekError(f"week must look like 2026-W47, got {text!r}")
    return IsoWeek(int(found.group(1)), int(found.group(2)))


def week_of(day: date) -> IsoWeek:
    """The ISO week that holds ``day``."""
    iso = day.isocalendar()
    return IsoWeek(iso.year, iso.week)


def weeks_in_year(year: int) -> int:
    """52 or 53: the ISO week of 28 December."""
    if not 1 <= year <= 9998:
        raise WeekError(f"year {year} is out of range")
    return date(year, 12, 28).isocalendar().week


def day_start(day: date, zone: ZoneInfo = BERLIN) -> int:
    """Local midnight at the start of ``day`` in ns since the epoch."""
    local = datetime(day.year, day.month, day.day, tzinfo=zone)
    return int(local.timestamp()) * NS


@lru_cache(maxsize=8192)  # a report looks up the same ~850 hour starts many times
def local_hour(ns: int, zone: ZoneInfo = BERLIN) -> tuple[date, int]:
    """The local date and hour (0..23) of an instant."""
    moment = datetime.fromtimestamp(ns / NS, tz=UTC).astimezone(zone)
    return moment.date(), moment.hour


def hours_of_day(day: date, zone: ZoneInfo = BERLIN) -> list[int]:
    """The start of every hour of a local day, ns since the epoch: 23, 24 or 25 of them."""
    start, end = day_start(day, zone), day_start(day + timedelta(days=1), zone)
    return list(range(start, end, HOUR_NS))


def last_complete_week(now: datetime, *, grace: timedelta = timedelta(hours=6), zone: ZoneInfo = BERLIN) -> IsoWeek:
    """The latest week that ended at least ``grace`` before ``now`` (late data has arrived and been processed)."""
    local = (now - grace).astimezone(zone).date()
    return week_of(local).previous()
