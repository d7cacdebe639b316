"""InfluxQL for the API, built without any web framework: every parameter that reaches a query is validated or
quoted here and nowhere else.

Identifiers and string literals go through :func:`stadtpuls.lineprotocol.quote_identifier` and
:func:`~stadtpuls.lineprotocol.quote_string`; quantities must be canonical names, aggregates one of
:data:`AGGREGATES`, intervals match :data:`_DURATION`, times are parsed RFC 3339 instants written as integer
nanoseconds, time zones are IANA names known to this machine. A bad value raises :class:`ParamError` naming the
parameter.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from processing.store import NOT_ROLLED_UP
from stadtpuls.lineprotocol import LineProtocolError, check_name, quote_identifier, quote_string
from stadtpuls.schema import QUANTITIES, UPLINK_MEASUREMENT

NS = 1_000_000_000
DEFAULT_TZ = "Europe/Berlin"
AGGREGATES = ("mean", "min", "max", "sum", "count", "last")
_DURATION = re.compile(r"^([1-9][0-9]{0,5})(s|m|h|d|w)$")
_UNIT_NS = {"s": NS, "m": 60 * NS, "h": 3600 * NS, "d": 86400 * NS, "w": 7 * 86400 * NS}
MIN_EVERY = 60 * NS  # aggregates of at least a minute
MAX_BUCKETS = 1_000_000  # intervals one request may span
MAX_TEXT = 200  # characters of a site or municipality name
TIME_MIN = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)

# processing's rollups: every → retention policy; the fields of each aggregate. Minutes are aggregated from the raw
# data (processing rolls up at 1 minute only what reports more often, where the raw aggregate is the same), as are
# the quantities processing does not roll up (the parking state, running totals)
ROLLUPS = {"15m": "r15m", "1h": "r1h", "1d": "r1d"}
ROLLUP_FIELD = {"mean": "mean", "min": "min", "max": "max", "sum": "sum", "count": "count", "last": "last"}
# re-aggregating hourly rollups into local days: the aggregate of each field
DAY_FROM_HOURS = {"mean": "mean", "min": "min", "max": "max", "sum": "sum", "count": "sum", "last": "last"}
SUMMABLE = frozenset({"people_in", "people_out", "motion"})  # quantities whose rollups carry a sum


class ParamError(ValueError):
    """A request parameter is invalid; ``param`` names it."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


def parse_time(text: str, param: str) -> int:
    """An RFC 3339 time with its zone (``Z`` or ``±hh:mm``) → ns since the epoch.

    Raises:
        ParamError: not such a time, no zone, or outside 1970..2200.
    """
    if len(text) > 64:
        raise ParamError(param, "is too long for a time")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ParamError(param, f"{text!r} is not an RFC 3339 time, e.g. 2025-06-14T12:00:00+02:00") from exc
    if moment.tzinfo is None or "T" not in text.upper():
        raise ParamError(param, f"{text!r} needs a date, a time and a zone, e.g. 2025-06-14T12:00:00Z")
    if not TIME_MIN <= moment < TIME_MAX:
        raise ParamError(param, f"{text!r} is outside 1970-01-01..2200-01-01")
    delta = moment - TIME_MIN
    return (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000


def format_time(ns: int, zone: tzinfo = UTC) -> str:
    """Nanoseconds since the epoch → RFC 3339 in ``zone`` (``Z`` for UTC), to the microsecond where needed."""
    moment = datetime.fromtimestamp(ns // NS, tz=zone).replace(microsecond=(ns % NS) // 1000)
    text = moment.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parse_zone(name: str, param: str = "tz") -> ZoneInfo:
    """An IANA time zone such as ``Europe/Berlin``.

    Raises:
        ParamError: unknown zone.
    """
    if not re.fullmatch(r"[A-Za-z0-9_+\-]{1,32}(/[A-Za-z0-9_+\-]{1,32}){0,2}", name):
        raise ParamError(param, f"{name!r} is not a time zone name such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ParamError(param, f"unknown time zone {name!r}") from exc


def parse_duration(text: str, param: str = "every") -> tuple[str, int]:
    """``15m`` → (``"15m"``, ns). Units s, m, h, d, w; at least one minute.

    Raises:
        ParamError: not such a duration.
    """
    match = _DURATION.match(text)
    if not match:
        raise ParamError(param, f"{text!r} is not a duration such as 15m, 1h, 1d or 1w")
    ns = int(match.group(1)) * _UNIT_NS[match.group(2)]
    if ns < MIN_EVERY:
        raise ParamError(param, "must be at least 1m")
    return text, ns


def check_quantity(name: str, param: str = "quantity") -> str:
    """A canonical quantity name (``pm10``, ``occupied`` ...).

    Raises:
        ParamError: not a known quantity.
    """
    if name not in QUANTITIES:
        raise ParamError(param, f"unknown quantity {name[:60]!r}; see the canonical quantities in the README")
    return name


def check_aggregate(name: str, param: str = "agg") -> str:
    """One of :data:`AGGREGATES`.

    Raises:
        ParamError: anything else.
    """
    if name not in AGGREGATES:
        raise ParamError(param, f"must be one of {', '.join(AGGREGATES)}")
    return name


def check_text(value: str, param: str) -> str:
    """A site or municipality name as stored: 1-200 characters, no control characters.

    Raises:
        ParamError: empty, too long or with control characters.
    """
    if not value or len(value) > MAX_TEXT:
        raise ParamError(param, f"must be 1-{MAX_TEXT} characters")
    try:
        return check_name(value)
    except LineProtocolError as exc:
        raise ParamError(param, str(exc)) from exc


@dataclass(frozen=True)
class SeriesRequest:
    """A validated time-series request. ``dev_eui`` or ``site`` narrows it; ``municipality`` always scopes it."""

    quantity: str
    start: int  # ns, inclusive
    end: int  # ns, exclusive
    municipality: str | None  # None: every municipality (admin keys)
    dev_eui: str | None = None
    site: str | None = None
    every: str | None = None
    every_ns: int = 0
    agg: str | None = None
    tz: str = DEFAULT_TZ
    limit: int = 1000
    rollups: bool = False

    def fingerprint(self) -> str:
        """Eight hex digits naming the request without its paging, to tie a cursor to it."""
        text = "|".join(str(v) for v in (self.quantity, self.start, self.end, self.municipality, self.dev_eui,
                                         self.site, self.every, self.agg, self.tz, self.limit))
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def source(self) -> str:
        """``raw`` or the retention policy and measurement of the rollup read."""
        measurement, policy, _ = self._rollup()
        return f"{policy}.{measurement}" if policy else "raw"

    def _rollup(self) -> tuple[str, str | None, str | None]:
        """(measurement, policy, select expression) of the processed data to read, or policy None for raw."""
        if not (self.rollups and self.every in ROLLUPS and self.agg) or self.quantity in NOT_ROLLED_UP:
            return self.quantity, None, None
        if self.agg == "sum" and self.quantity not in SUMMABLE:
            return self.quantity, None, None
        measurement = self.quantity if self.dev_eui else f"{self.quantity}_site"
        if not self.dev_eui and self.agg == "last":
            return self.quantity, None, None  # per-site rollups keep no last value
        if self.every == "1d" and self.tz != "UTC":  # rollup days are UTC days; local days come from hours
            field = quote_identifier(ROLLUP_FIELD[self.agg])
            return measurement, "r1h", f"{DAY_FROM_HOURS[self.agg]}({field})"
        return measurement, ROLLUPS[self.every], quote_identifier(ROLLUP_FIELD[self.agg])


def series_request(
    *,
    quantity: str,
    start: str,
    end: str,
    municipality: str | None,
    dev_eui: str | None,
    site: str | None,
    every: str | None,
    agg: str | None,
    tz: str,
    limit: int,
    max_points: int,
    max_range_days: int,
    rollups: bool,
) -> SeriesRequest:
    """Validate every parameter of ``/v1/timeseries``.

    Raises:
        ParamError: the first invalid parameter, with what to do instead.
    """
    check_quantity(quantity)
    begin, finish = parse_time(start, "start"), parse_time(end, "end")
    if finish <= begin:
        raise ParamError("end", "must be after start")
    if finish - begin > max_range_days * 86400 * NS:
        raise ParamError("end", f"at most {max_range_days} days per request: split the range into several requests")
    if not 1 <= limit <= max_points:
        raise ParamError("limit", f"must be 1..{max_points} points per page; follow `next` for more pages")
    if site is not None:
        check_text(site, "site")
    if municipality is not None:
        check_text(municipality, "municipality")
    if dev_eui is None and site is None:
        raise ParamError("dev_eui", "give dev_eui or site")
    zone = parse_zone(tz)
    every_text, every_ns = (None, 0)
    if every is not None:
        every_text, every_ns = parse_duration(every)
        if (finish - begin) // every_ns > MAX_BUCKETS:
            raise ParamError("every", f"more than {MAX_BUCKETS} intervals in the range: choose a longer `every`")
        agg = check_aggregate(agg or "mean")
    elif agg is not None:
        raise ParamError("agg", "needs `every`: raw readings are not aggregated")
    return SeriesRequest(
        quantity=quantity, start=begin, end=finish, municipality=municipality, dev_eui=dev_eui, site=site,
        every=every_text, every_ns=every_ns, agg=agg, tz=zone.key, limit=limit, rollups=rollups,
    )


def _where(request: SeriesRequest, start: int) -> str:
    parts = [f"time >= {int(start)}", f"time < {int(request.end)}"]
    for tag, value in (("municipality", request.municipality), ("dev_eui", request.dev_eui),
                       ("site", request.site)):
        if value is not None:
            parts.append(f"{quote_identifier(tag)} = {quote_string(value)}")
    return " AND ".join(parts)


def series_query(request: SeriesRequest, start: int) -> str:
    """One page of the series from ``start`` (ns): at most ``limit + 1`` rows per series, in time order."""
    measurement, policy, expression = request._rollup()
    source = quote_identifier(measurement)
    if policy:
        source = f"{quote_identifier(policy)}.{source}"
    where = _where(request, start)
    rows = int(request.limit) + 1
    if request.every is None:
        return (f'SELECT "value", "dev_eui", "channel" FROM {source} WHERE {where} '
                f"ORDER BY time ASC LIMIT {rows}")
    group = ' GROUP BY "channel"' if request.dev_eui else ""
    if expression is not None and (policy != "r1h" or request.every == "1h"):
        return f'SELECT {expression} AS "value" FROM {source} WHERE {where}{group} ORDER BY time ASC LIMIT {rows}'
    select = expression or f'{request.agg}("value")'
    group = f"{group}, " if group else " GROUP BY "
    offset = f", {WEEK_OFFSET}" if request.every_ns % (7 * 86400 * NS) == 0 else ""  # weeks start on Mondays
    return (f'SELECT {select} AS "value" FROM {source} WHERE {where}{group}time({request.every}{offset}) '
            f"fill(none) LIMIT {rows} tz({quote_string(request.tz)})")


@dataclass(frozen=True)
class Row:
    """One point of a page: time (ns), value, and the device and channel where known."""

    time: int
    value: float | None
    dev_eui: str | None
    channel: str | None


def series_rows(request: SeriesRequest, series: list[dict[str, Any]]) -> list[Row]:
    """InfluxDB's answer to :func:`series_query` → rows in time order (then device and channel)."""
    rows = []
    for s in series:
        tags = s.get("tags") or {}
        columns = s["columns"]
        for values in s.get("values") or []:
            record = dict(zip(columns, values, strict=False))
            rows.append(Row(
                time=int(record["time"]),
                value=record.get("value"),
                dev_eui=record.get("dev_eui") or tags.get("dev_eui") or request.dev_eui,
                channel=record.get("channel") or tags.get("channel") or None,
            ))
    rows.sort(key=lambda r: (r.time, r.dev_eui or "", r.channel or ""))
    return rows


def cut_page(rows: list[Row], limit: int) -> tuple[list[Row], int | None]:
    """The rows of one page and the start (ns) of the next, or None on the last page.

    Each series brought at most ``limit + 1`` rows; the page ends before the time of the ``limit + 1``-th row
    of all of them, so no time is split between two pages. Only where more than ``limit`` rows share one
    time are they all put on the page.
    """
    if len(rows) <= limit:
        return rows, None
    cut = rows[limit].time
    page = [r for r in rows if r.time < cut]
    if not page:
        page = [r for r in rows if r.time == cut]
        return page, cut + 1
    return page, cut


def encode_cursor(request: SeriesRequest, start: int) -> str:
    """An opaque cursor: where the next page starts, tied to this request."""
    return base64.urlsafe_b64encode(f"1:{start}:{request.fingerprint()}".encode()).decode().rstrip("=")


def decode_cursor(request: SeriesRequest, cursor: str) -> int:
    """The start (ns) of the page a cursor names.

    Raises:
        ParamError: not a cursor of this request.
    """
    if len(cursor) > 100:
        raise ParamError("cursor", "is not a cursor of this API")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, start_text, fingerprint = text.split(":")
        start = int(start_text)
    except ValueError as exc:
        raise ParamError("cursor", "is not a cursor of this API") from exc
    if version != "1" or fingerprint != request.fingerprint():
        raise ParamError("cursor", "belongs to another request: repeat the parameters of the first page exactly")
    if not request.start <= start <= request.end:
        raise ParamError("cursor", "points outside the requested range")
    return start


def latest_values_query(dev_eui: str, quantities: Iterable[str]) -> str:
    """The newest value of each quantity (and channel) of one device."""
    names = sorted(set(quantities))
    if not names:
        raise ValueError("no quantities to query")
    sources = ",".join(quote_identifier(n) for n in names)
    return (
        f'SELECT last("value") AS "value" FROM {sources} WHERE "dev_eui" = {quote_string(dev_eui)} GROUP BY "channel"'
    )


def latest_by_device_query(quantities: Iterable[str], municipality: str | None) -> str:
    """The newest value of each quantity, device and channel (of one municipality, or of all)."""
    names = sorted(set(quantities))
    if not names:
        raise ValueError("no quantities to query")
    sources = ",".join(quote_identifier(n) for n in names)
    where = f' WHERE "municipality" = {quote_string(municipality)}' if municipality is not None else ""
    return f'SELECT last("value") AS "value" FROM {sources}{where} GROUP BY "dev_eui", "channel"'


def last_seen_query(municipality: str | None, dev_eui: str | None = None) -> str:
    """The time of each device's newest uplink (of one municipality or device, or of all)."""
    conditions = []
    if municipality is not None:
        conditions.append(f'"municipality" = {quote_string(municipality)}')
    if dev_eui is not None:
        conditions.append(f'"dev_eui" = {quote_string(dev_eui)}')
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    return f'SELECT last("f_cnt") FROM {quote_identifier(UPLINK_MEASUREMENT)}{where} GROUP BY "dev_eui"'


def latest_uplink_query(dev_eui: str) -> str:
    """The device's newest radio record."""
    # one row, not several last() selectors: with more than one selector InfluxQL reports time 0
    return (
        f'SELECT "rssi", "snr", "f_cnt" FROM {quote_identifier(UPLINK_MEASUREMENT)} '
        f'WHERE "dev_eui" = {quote_string(dev_eui)} ORDER BY time DESC LIMIT 1'
    )


def parse_latest(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Series from :func:`latest_values_query` → one record per quantity and channel, sorted."""
    values = []
    for s in series:
        quantity = s["name"]
        row = dict(zip(s["columns"], s["values"][0], strict=False))
        if row.get("value") is None:
            continue
        values.append(
            {
                "quantity": quantity,
                "channel": (s.get("tags") or {}).get("channel") or None,
                "value": row["value"],
                "unit": QUANTITIES[quantity].unit if quantity in QUANTITIES else "",
                "time": format_time(int(row["time"])),
            }
        )
    return sorted(values, key=lambda v: (v["quantity"], v["channel"] or ""))


def parse_latest_by_device(series: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Series from :func:`latest_by_device_query` → DevEUI → its newest values."""
    by_device: dict[str, list[dict[str, Any]]] = {}
    for s in series:
        dev_eui = (s.get("tags") or {}).get("dev_eui") or ""
        by_device.setdefault(dev_eui, []).extend(parse_latest([s]))
    return by_device


def parse_last_seen(series: list[dict[str, Any]]) -> Mapping[str, int]:
    """Series from :func:`last_seen_query` → DevEUI → time (ns) of its newest uplink."""
    return {
        (s.get("tags") or {}).get("dev_eui") or "": int(s["values"][0][0]) for s in series if s.get("values")
    }


def parse_uplink(series: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The radio record from :func:`latest_uplink_query`, or None if the device was never heard."""
    if not series or not series[0]["values"]:
        return None
    row = dict(zip(series[0]["columns"], series[0]["values"][0], strict=False))
    return {
        "time": format_time(int(row["time"])),
        "rssi": row.get("rssi"),
        "snr": row.get("snr"),
        "f_cnt": int(row["f_cnt"]) if row.get("f_cnt") is not None else None,
    }


# ---------------------------------------------------------------------------------------------------------------
# processed data: the measurements processing writes (its README, "Processed data"); days there are UTC days

WEEK_OFFSET = "4d"  # InfluxQL counts weeks from Thursday 1 January 1970; four days on, they start on Mondays
BANDS = ("2024", "2017")  # EAQI band tables processing can write
PM_MEANS = ("1h", "24h")  # how PM is averaged for the index
OCCUPANCY_EVERY = {"15m": "r15m", "1h": "r1h"}  # local days and weeks are built from hours
FOOTFALL_EVERY = {"15m": "r15m", "1h": "r1h"}
DIRECTIONS = ("in", "out")


def check_choice(value: str, choices: Iterable[str], param: str) -> str:
    """One of ``choices``.

    Raises:
        ParamError: anything else.
    """
    options = tuple(choices)
    if value not in options:
        raise ParamError(param, f"must be one of {', '.join(options)}")
    return value


def time_range(start: str, end: str, *, max_range_days: int) -> tuple[int, int]:
    """A validated [start, end) of RFC 3339 times → ns.

    Raises:
        ParamError: a bad time, end before start, or a range over ``max_range_days``.
    """
    begin, finish = parse_time(start, "start"), parse_time(end, "end")
    if finish <= begin:
        raise ParamError("end", "must be after start")
    if finish - begin > max_range_days * 86400 * NS:
        raise ParamError("end", f"at most {max_range_days} days per request: split the range into several requests")
    return begin, finish


def _scope(municipality: str | None, site: str | None = None) -> list[str]:
    parts = []
    if municipality is not None:
        parts.append(f'"municipality" = {quote_string(check_text(municipality, "municipality"))}')
    if site is not None:
        parts.append(f'"site" = {quote_string(check_text(site, "site"))}')
    return parts


def _group_time(every: str, zone: str) -> str:
    offset = f", {WEEK_OFFSET}" if every.endswith("w") else ""
    return f"time({every}{offset}) fill(none) tz({quote_string(zone)})"


def availability_query(municipality: str | None, site: str | None = None) -> str:
    """Each lot's newest availability (free, occupied, unknown bays and capacity)."""
    where = " AND ".join(_scope(municipality, site))
    return (f'SELECT "free", "occupied", "unknown", "capacity" FROM "lot_availability"'
            f'{" WHERE " + where if where else ""} GROUP BY "municipality", "site" ORDER BY time DESC LIMIT 1')


def occupancy_query(municipality: str | None, site: str, start: int, end: int, every: str, zone: str) -> str:
    """A lot's occupancy per interval: from the rollup of that resolution, or hours averaged per local day/week."""
    where = " AND ".join([*_scope(municipality, site), f"time >= {int(start)}", f"time < {int(end)}"])
    if every in OCCUPANCY_EVERY:
        return (f'SELECT "occupancy", "coverage", "bays" FROM {quote_identifier(OCCUPANCY_EVERY[every])}.'
                f'"lot_occupancy" WHERE {where} GROUP BY "municipality"')
    return (f'SELECT mean("occupancy") AS "occupancy", mean("coverage") AS "coverage", max("bays") AS "bays" '
            f'FROM "r1h"."lot_occupancy" WHERE {where} GROUP BY "municipality", {_group_time(every, zone)}')


def footfall_query(
    municipality: str | None, site: str, start: int, end: int, every: str, zone: str, direction: str | None
) -> str:
    """People per interval at a site and direction: the rollup of that resolution, or hours summed per local
    day or week (``complete`` is then the mean share of counters complete in the hours).
    """
    parts = [*_scope(municipality, site), f"time >= {int(start)}", f"time < {int(end)}"]
    if direction is not None:
        parts.append(f'"direction" = {quote_string(check_choice(direction, DIRECTIONS, "direction"))}')
    where = " AND ".join(parts)
    if every in FOOTFALL_EVERY:
        return (f'SELECT "count", "complete" FROM {quote_identifier(FOOTFALL_EVERY[every])}."footfall_site" '
                f'WHERE {where} GROUP BY "municipality", "direction"')
    return (f'SELECT sum("count") AS "count", mean("complete") AS "complete" FROM "r1h"."footfall_site" '
            f'WHERE {where} GROUP BY "municipality", "direction", {_group_time(every, zone)}')


def eaqi_now_query(municipality: str | None, bands: str, pm_mean: str, site: str | None = None) -> str:
    """Each station's newest hourly EAQI with the concentrations it was made from."""
    where = " AND ".join([*_scope(municipality, site), f'"bands" = {quote_string(check_choice(bands, BANDS, "bands"))}',
                          f'"pm_mean" = {quote_string(check_choice(pm_mean, PM_MEANS, "pm_mean"))}'])
    return (f'SELECT "index", "pm2_5", "pm10", "no2", "o3" FROM "r1h"."eaqi" WHERE {where} '
            f'GROUP BY "municipality", "site", "dev_eui" ORDER BY time DESC LIMIT 1')


def eaqi_hours_query(
    dev_eui: str, start: int, end: int, bands: str, pm_mean: str, *, every: str = "1h", zone: str = DEFAULT_TZ
) -> str:
    """A station's EAQI per hour, or per local day (the day's worst hour, the mean concentrations)."""
    band = quote_string(check_choice(bands, BANDS, "bands"))
    averaging = quote_string(check_choice(pm_mean, PM_MEANS, "pm_mean"))
    where = (f'"dev_eui" = {quote_string(dev_eui)} AND "bands" = {band} AND "pm_mean" = {averaging} '
             f"AND time >= {int(start)} AND time < {int(end)}")
    if check_choice(every, ("1h", "1d"), "every") == "1h":
        return f'SELECT "index", "pm2_5", "pm10", "no2", "o3" FROM "r1h"."eaqi" WHERE {where}'
    means = ", ".join(f'mean("{p}") AS "{p}"' for p in ("pm2_5", "pm10", "no2", "o3"))
    return (f'SELECT max("index") AS "index", {means} FROM "r1h"."eaqi" WHERE {where} '
            f"GROUP BY {_group_time('1d', zone)}")


def exceedances_query(municipality: str | None, site: str | None, start: int, end: int) -> str:
    """Per station: days with a valid PM10 mean, days over the PM10 limit, hours over the NO2 limit."""
    where = " AND ".join([*_scope(municipality, site), f"time >= {int(start)}", f"time < {int(end)}"])
    return (f'SELECT count("pm10_mean") AS "pm10_valid_days", sum("pm10_over_limit") AS "pm10_days_over_limit", '
            f'sum("no2_hours_over_limit") AS "no2_hours_over_limit", sum("no2_valid_hours") AS "no2_valid_hours" '
            f'FROM "r1d"."air_limits" WHERE {where} GROUP BY "municipality", "site", "dev_eui"')


def records(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """InfluxDB series → one dict per row with the series' tags and ``time`` in ns."""
    out = []
    for s in series:
        tags = s.get("tags") or {}
        for values in s.get("values") or []:
            out.append({**tags, **dict(zip(s["columns"], values, strict=False))})
    return out


def number(row: Mapping[str, Any], key: str) -> float | None:
    """A numeric column of a record, or None."""
    value = row.get(key)
    return float(value) if isinstance(value, int | float) else None


def whole(row: Mapping[str, Any], key: str) -> int | None:
    """A numeric column of a record as a whole number, or None."""
    value = number(row, key)
    return round(value) if value is not None else None


def by_time(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    """Records sorted by time (ns), then by the given tag keys."""
    return sorted(rows, key=lambda r: (int(r["time"]), *(str(r.get(k) or "") for k in keys)))
