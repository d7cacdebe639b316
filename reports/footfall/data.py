"""One week of footfall gathered into plain numbers: what the text, the plots and the templates read.

Every number here is a sum of the processed hourly counts of the counting lines (``"r1h"."footfall"``), both
directions together (a passer-by is counted once, whichever way they walk). Days are local days of the town.

Gaps: an hour of a line without a count (a gap in the processed data, or no point at all) is never a zero. It is
estimated from the same line at the same weekday and local hour of the week before, if that hour was counted, and
the estimate is kept apart (``estimated``) so the report can mark it; an hour without either stays missing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from reports.footfall.query import HourCount, Line, hourly_counts
from reports.footfall.weeks import BERLIN, HOUR_NS, NS, IsoWeek, hours_of_day, local_hour
from stadtpuls.calendar import DayNote, TownCalendar
from stadtpuls.influx import InfluxClient

Slot = tuple[Line, int, int]  # line, weekday (0 = Monday), local hour


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An anomaly event of the week, in one line (times: aware UTC datetimes); ``dev_eui`` empty when unknown."""

    start: datetime
    end: datetime
    site: str
    kind: str
    reason: str
    dev_eui: str = ""


@dataclass(frozen=True)
class WeekCounts:
    """The hourly totals of one week: counted and estimated people per hour start, per line, and what is missing."""

    week: IsoWeek
    counted: dict[Line, dict[int, float]]
    estimated: dict[Line, dict[int, float]]
    missing: dict[Line, list[int]]

    def total(self, *, day: date | None = None, site: str | None = None, zone: ZoneInfo = BERLIN) -> float:
        """People counted plus estimated, for one local day and/or site or the whole week."""
        return sum(v for _, v in self._values(day=day, site=site, zone=zone))

    def estimated_part(self, *, day: date | None = None, site: str | None = None, zone: ZoneInfo = BERLIN) -> float:
        """The estimated share of :meth:`total`, in people."""
        return sum(v for line, hours in self.estimated.items() if site in (None, line.site)
                   for ns, v in hours.items() if day is None or local_hour(ns, zone)[0] == day)

    def missing_hours(self, *, day: date | None = None, zone: ZoneInfo = BERLIN) -> int:
        """Line-hours with neither a count nor an estimate."""
        return sum(1 for hours in self.missing.values() for ns in hours
                   if day is None or local_hour(ns, zone)[0] == day)

    def _values(self, *, day: date | None, site: str | None, zone: ZoneInfo) -> Iterable[tuple[int, float]]:
        for source in (self.counted, self.estimated):
            for line, hours in source.items():
                if site is not None and line.site != site:
                    continue
                for ns, value in hours.items():
                    if day is None or local_hour(ns, zone)[0] == day:
                        yield ns, value

    def by_hour(self, zone: ZoneInfo = BERLIN) -> dict[int, float]:
        """Hour start (ns) → people, all lines together (counted and estimated)."""
        out: dict[int, float] = defaultdict(float)
        for source in (self.counted, self.estimated):
            for hours in source.values():
                for ns, value in hours.items():
                    out[ns] += value
        return dict(out)

    @property
    def complete(self) -> bool:
        """Whether every hour of every line was counted."""
        return not any(self.estimated.values()) and not any(self.missing.values())


@dataclass(frozen=True, slots=True)
class DayRow:
    """One day of the report week with its weekday-aligned comparisons."""

    day: date
    total: float
    estimated: float  # people of `total` that are estimates for gaps
    missing_hours: int  # line-hours neither counted nor estimated
    previous: float | None  # the same weekday of the week before
    last_year: float | None  # the same weekday of the same ISO week a year earlier
    previous_incomplete: bool
    last_year_incomplete: bool
    peak_hour: int | None  # local hour (0..23) with the most people
    peak_count: float
    notes: tuple[DayNote, ...]

    @property
    def change_previous(self) -> float | None:
        """Change over the week before, in per cent."""
        return change(self.total, self.previous)

    @property
    def change_last_year(self) -> float | None:
        """Change over the same weekday a year earlier, in per cent."""
        return change(self.total, self.last_year)


@dataclass(frozen=True, slots=True)
class SiteRow:
    """One site: people per day (Monday first) and the week's totals with comparisons."""

    site: str
    days: tuple[float, ...]
    total: float
    previous: float | None
    last_year: float | None
    inbound: float
    outbound: float


@dataclass(frozen=True, slots=True)
class Share:
    """One counting location's share of the week."""

    label: str
    site: str
    people: float
    share: float  # per cent


@dataclass(frozen=True, slots=True)
class Gap:
    """Consecutive hours of one line without a count (local start and end of the last hour + 1 h)."""

    label: str
    site: str
    start: datetime
    end: datetime
    estimated: bool


@dataclass(frozen=True, slots=True)
class NormalLevel:
    """The mean people per hour in opening hours (Monday to Saturday, not on public holidays)."""

    opening: tuple[int, int]  # local hours [from, to)
    mean: float | None
    previous: float | None
    last_year: float | None


@dataclass(frozen=True)
class WeekReport:
    """Everything the footfall report of one week shows."""

    week: IsoWeek
    previous_week: IsoWeek
    last_year_week: IsoWeek
    municipality: str
    town: str
    sites: tuple[str, ...]
    days: tuple[DayRow, ...]
    site_rows: tuple[SiteRow, ...]
    total: float
    previous_total: float | None
    last_year_total: float | None
    matrix: tuple[tuple[float, ...], ...]  # [weekday 0..6][local hour 0..23], people
    locations: tuple[Share, ...]
    normal_level: NormalLevel
    expected_hours: int  # line-hours of the week
    counted_hours: int
    estimated_hours: int
    gaps: tuple[Gap, ...]
    anomalies: tuple[Anomaly, ...]
    generated: datetime
    zone: str = "Europe/Berlin"
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def completeness(self) -> float:
        """Share of the week's line-hours that were counted, per cent."""
        return 100.0 * self.counted_hours / self.expected_hours if self.expected_hours else 0.0

    @property
    def inbound(self) -> float:
        """People counted inbound over all sites."""
        return sum(s.inbound for s in self.site_rows)

    @property
    def outbound(self) -> float:
        """People counted outbound over all sites."""
        return sum(s.outbound for s in self.site_rows)


def change(value: float, before: float | None) -> float | None:
    """``value`` over ``before`` in per cent; None without a positive ``before``."""
    if before is None or before <= 0:
        return None
    return 100.0 * (value - before) / before


def week_hours(week: IsoWeek, zone: ZoneInfo = BERLIN) -> list[int]:
    """Every hour start of a local week (ns): 168, or 167/169 in a week with a change of daylight saving time."""
    return [ns for day in week.days for ns in hours_of_day(day, zone)]


def fill_week(week: IsoWeek, rows: Iterable[HourCount], before: Iterable[HourCount], lines: Iterable[Line],
              *, zone: ZoneInfo = BERLIN) -> WeekCounts:
    """Sort a week's stored hours into counted, estimated (from the week before) and missing, per line.

    Args:
        week: the week.
        rows: the stored hours of the week (others are ignored).
        before: the stored hours of the week before, the source of estimates.
        lines: every line expected in the week (lines with no stored hour at all are missing throughout).
        zone: the town's time zone.
    """
    hours = week_hours(week, zone)
    stored: dict[Line, dict[int, float | None]] = defaultdict(dict)
    for row in rows:
        stored[row.line][row.start] = row.count
    slots = _slots(before, zone)
    counted: dict[Line, dict[int, float]] = {}
    estimated: dict[Line, dict[int, float]] = {}
    missing: dict[Line, list[int]] = {}
    for line in sorted(set(lines) | set(stored), key=_line_key):
        mine = stored.get(line, {})
        counted[line], estimated[line], missing[line] = {}, {}, []
        for ns in hours:
            value = mine.get(ns)
            if value is not None:
                counted[line][ns] = value
                continue
            day, hour = local_hour(ns, zone)
            guesses = slots.get((line, day.weekday(), hour))
            if guesses:
                estimated[line][ns] = sum(guesses) / len(guesses)
            else:
                missing[line].append(ns)
    return WeekCounts(week, counted, estimated, missing)


def _slots(rows: Iterable[HourCount], zone: ZoneInfo) -> dict[Slot, list[float]]:
    out: dict[Slot, list[float]] = defaultdict(list)
    for row in rows:
        if row.count is not None:
            day, hour = local_hour(row.start, zone)
            out[(row.line, day.weekday(), hour)].append(row.count)
    return out


def _line_key(line: Line) -> tuple[str, str, str, str]:
    return (line.site, line.dev_eui, line.channel, line.direction)


@dataclass(frozen=True)
class Options:
    """What to gather: the town, the sites (all when empty), opening hours and labels of the counters."""

    municipality: str
    town: str = ""
    sites: tuple[str, ...] = ()
    opening: tuple[int, int] = (10, 20)  # local hours [from, to) of the normal level
    labels: Mapping[str, str] = field(default_factory=dict)  # dev_eui → a readable name
    zone: ZoneInfo = BERLIN


async def gather(client: InfluxClient, week: IsoWeek, options: Options, *, calendar: TownCalendar | None = None,
                 anomalies: Iterable[Anomaly] = (), now: datetime | None = None) -> WeekReport:
    """Read the week, the week before and the same week a year earlier (each with its week before, for estimates).

    Raises:
        stadtpuls.influx.InfluxError: InfluxDB is unreachable or refuses a query.
        reports.footfall.query.QueryError: far more rows than a report needs.
    """
    weeks = {"now": week, "prev": week.previous(), "prev2": week.previous().previous(),
             "year": week.year_before(), "year_prev": week.year_before().previous()}
    rows = {}
    for key, w in weeks.items():
        start, end = w.bounds(options.zone)
        rows[key] = await hourly_counts(client, options.municipality, sites=options.sites, start=start, end=end)
    recent = {r.line for key in ("now", "prev") for r in rows[key]}  # a counter gone for two weeks is not expected
    old = {r.line for key in ("year", "year_prev") for r in rows[key]}
    counts = fill_week(week, rows["now"], rows["prev"], recent, zone=options.zone)
    previous = fill_week(weeks["prev"], rows["prev"], rows["prev2"], recent, zone=options.zone)
    last_year = fill_week(weeks["year"], rows["year"], rows["year_prev"], old, zone=options.zone)
    return build(counts, previous, last_year, options, calendar=calendar or TownCalendar(),
                 anomalies=anomalies, now=now)


def build(counts: WeekCounts, previous: WeekCounts, last_year: WeekCounts, options: Options, *,
          calendar: TownCalendar, anomalies: Iterable[Anomaly] = (), now: datetime | None = None) -> WeekReport:
    """The report of ``counts`` compared with ``previous`` and ``last_year`` (no I/O)."""
    zone = options.zone
    sites = tuple(sorted({line.site for line in counts.counted}))
    days = tuple(_day_row(counts, previous, last_year, n, calendar, zone) for n in range(7))
    start, end = counts.week.bounds(zone)
    counters = {line.dev_eui for line in counts.counted}  # events of other devices (parking, air) are not shown
    shown = [a for a in anomalies if (not a.dev_eui or a.dev_eui in counters)
             and a.start.timestamp() * NS < end and a.end.timestamp() * NS >= start]
    return WeekReport(
        week=counts.week, previous_week=previous.week, last_year_week=last_year.week,
        municipality=options.municipality, town=options.town or options.municipality, sites=sites, days=days,
        site_rows=tuple(_site_row(counts, previous, last_year, site, zone) for site in sites),
        total=counts.total(zone=zone), previous_total=_known_total(previous, zone),
        last_year_total=_known_total(last_year, zone), matrix=_matrix(counts, zone),
        locations=_shares(counts, options.labels),
        normal_level=NormalLevel(options.opening, *(_normal(w, options.opening, calendar, zone)
                                                    for w in (counts, previous, last_year))),
        expected_hours=sum(len(week_hours(counts.week, zone)) for _ in counts.counted),
        counted_hours=sum(len(h) for h in counts.counted.values()),
        estimated_hours=sum(len(h) for h in counts.estimated.values()),
        gaps=_gaps(counts, options.labels, zone),
        anomalies=tuple(sorted((replace(a, start=a.start.astimezone(zone), end=a.end.astimezone(zone)) for a in shown),
                               key=lambda a: (a.start, a.site, a.dev_eui, a.kind))),
        generated=now or datetime.now(UTC), zone=str(zone), labels=dict(options.labels),
    )


def _known_total(counts: WeekCounts, zone: ZoneInfo, day: date | None = None) -> float | None:
    if not counts.counted or not any(counts.counted.values()):
        return None
    return counts.total(day=day, zone=zone)


def _day_row(counts: WeekCounts, previous: WeekCounts, last_year: WeekCounts, n: int, calendar: TownCalendar,
             zone: ZoneInfo) -> DayRow:
    day = counts.week.days[n]
    hourly: dict[int, float] = defaultdict(float)
    for ns, value in counts.by_hour(zone).items():
        when, hour = local_hour(ns, zone)
        if when == day:
            hourly[hour] += value
    peak = max(hourly, key=lambda h: (hourly[h], -h)) if hourly and max(hourly.values()) > 0 else None
    before, year_day = previous.week.days[n], last_year.week.days[n]
    return DayRow(
        day=day, total=counts.total(day=day, zone=zone), estimated=counts.estimated_part(day=day, zone=zone),
        missing_hours=counts.missing_hours(day=day, zone=zone),
        previous=_known_total(previous, zone, before), last_year=_known_total(last_year, zone, year_day),
        previous_incomplete=previous.missing_hours(day=before, zone=zone) > 0
        or previous.estimated_part(day=before, zone=zone) > 0,
        last_year_incomplete=last_year.missing_hours(day=year_day, zone=zone) > 0
        or last_year.estimated_part(day=year_day, zone=zone) > 0,
        peak_hour=peak, peak_count=hourly[peak] if peak is not None else 0.0, notes=tuple(calendar.notes(day)),
    )


def _site_row(counts: WeekCounts, previous: WeekCounts, last_year: WeekCounts, site: str, zone: ZoneInfo) -> SiteRow:
    direction: dict[str, float] = defaultdict(float)
    for source in (counts.counted, counts.estimated):
        for line, hours in source.items():
            if line.site == site:
                direction[line.direction] += sum(hours.values())
    has_previous, has_last_year = (any(line.site == site and hours for line, hours in w.counted.items())
                                   for w in (previous, last_year))
    return SiteRow(
        site=site, days=tuple(counts.total(day=d, site=site, zone=zone) for d in counts.week.days),
        total=counts.total(site=site, zone=zone),
        previous=previous.total(site=site, zone=zone) if has_previous else None,
        last_year=last_year.total(site=site, zone=zone) if has_last_year else None,
        inbound=direction["in"], outbound=direction["out"],
    )


def _matrix(counts: WeekCounts, zone: ZoneInfo) -> tuple[tuple[float, ...], ...]:
    cells = [[0.0] * 24 for _ in range(7)]
    for ns, value in counts.by_hour(zone).items():
        day, hour = local_hour(ns, zone)
        cells[day.weekday()][hour] += value
    return tuple(tuple(row) for row in cells)


def _shares(counts: WeekCounts, labels: Mapping[str, str]) -> tuple[Share, ...]:
    several = _several_channels(counts)
    people: dict[tuple[str, str], float] = defaultdict(float)
    for source in (counts.counted, counts.estimated):
        for line, hours in source.items():
            people[(line.site, _label(line, labels, several))] += sum(hours.values())
    total = sum(people.values())
    shares = [Share(label, site, value, 100.0 * value / total if total else 0.0)
              for (site, label), value in people.items()]
    return tuple(sorted(shares, key=lambda s: (-s.people, s.label)))


def _several_channels(counts: WeekCounts) -> set[str]:
    """The counters with more than one counting line: only their labels name the line."""
    channels: dict[str, set[str]] = defaultdict(set)
    for line in counts.counted:
        channels[line.dev_eui].add(line.channel)
    return {dev_eui for dev_eui, names in channels.items() if len(names) > 1}


def _label(line: Line, labels: Mapping[str, str], several: set[str]) -> str:
    name = labels.get(line.dev_eui, line.dev_eui)
    return f"{name} ({line.channel})" if line.channel and line.dev_eui in several else name


def _normal(counts: WeekCounts, opening: tuple[int, int], calendar: TownCalendar, zone: ZoneInfo) -> float | None:
    if not any(counts.counted.values()):
        return None
    values = []
    for ns, value in counts.by_hour(zone).items():
        day, hour = local_hour(ns, zone)
        if day.weekday() < 6 and not calendar.is_holiday(day) and opening[0] <= hour < opening[1]:
            values.append(value)
    return sum(values) / len(values) if values else None


def _gaps(counts: WeekCounts, labels: Mapping[str, str], zone: ZoneInfo) -> tuple[Gap, ...]:
    several = _several_channels(counts)
    out = []
    for line in counts.counted:
        for estimated, hours in ((True, sorted(counts.estimated[line])), (False, counts.missing[line])):
            for first, last in _runs(hours):
                out.append(Gap(f"{_label(line, labels, several)} {line.direction}", line.site,
                               datetime.fromtimestamp(first / NS, tz=zone),
                               datetime.fromtimestamp((last + HOUR_NS) / NS, tz=zone), estimated))
    return tuple(sorted(out, key=lambda g: (g.start, g.label)))


def _runs(hours: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for ns in hours:
        if runs and ns == runs[-1][1] + HOUR_NS:
            runs[-1] = (runs[-1][0], ns)
        else:
            runs.append((ns, ns))
    return runs
