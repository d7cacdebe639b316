"""``/v1/footfall``: people per interval at a site and direction, against the week before and the same week a
year earlier (the same ISO week of the year before, weekday-aligned: 52 weeks back, 53 after a year with a
week 53, as the footfall report compares). Open data.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response

from api.answers import json_answer
from api.deps import InfluxDep, OpenDataDep, SettingsDep
from api.lookups import param_problem, query
from api.models import FootfallSeries
from api.problems import Problem, responses
from api.queries import (
    DEFAULT_TZ,
    DIRECTIONS,
    NS,
    ParamError,
    by_time,
    check_choice,
    footfall_query,
    format_time,
    number,
    parse_zone,
    records,
    time_range,
)
from reports.footfall.weeks import week_of
from stadtpuls.influx import InfluxClient

router = APIRouter(prefix="/v1/footfall", tags=["footfall"], responses=responses(401, 404, 422, 429, 503))

COMPARISONS = ("previous_week", "last_year")

Site = Annotated[str, Path(max_length=200, description="The site, e.g. a street of the pedestrian zone")]
Start = Annotated[str, Query(max_length=64, description="First instant, RFC 3339 with zone (inclusive)")]
End = Annotated[str, Query(max_length=64, description="Last instant, RFC 3339 with zone (exclusive)")]
Every = Annotated[str, Query(max_length=8, description="15m, 1h, 1d or 1w; days and weeks (from Monday) are local")]
Zone = Annotated[str, Query(max_length=64, description="Zone of day and week boundaries and of the times out")]
Direction = Annotated[str | None, Query(max_length=8, description="`in` or `out`; both when left out")]
Compare = Annotated[bool, Query(description="Add the week before and the same week a year earlier (same ISO week)")]
Municipality = Annotated[str | None, Query(max_length=200, description="The site's municipality")]


def _local(ns: int, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ns / NS, tz=zone).replace(tzinfo=None)


def _shifts(begin: int, zone: ZoneInfo) -> dict[str, timedelta]:
    """How far back each comparison lies: a week, and to the same ISO week a year earlier (52 or 53 weeks)."""
    week = week_of(_local(begin, zone).date())
    return {"previous_week": timedelta(weeks=1), "last_year": week.monday - week.year_before().monday}


def _back(ns: int, shift: timedelta, zone: ZoneInfo) -> int:
    """The same local wall-clock time ``shift`` earlier, in ns."""
    earlier = (_local(ns, zone) - shift).replace(tzinfo=zone)
    return int(earlier.timestamp()) * NS


async def _counts(influx: InfluxClient, influxql: str) -> list[dict[str, Any]]:
    return by_time(records(await query(influx, influxql)), "municipality", "direction")


@router.get("/{site}", response_model=FootfallSeries)
async def footfall(
    site: Site,
    principal: OpenDataDep,
    influx: InfluxDep,
    settings: SettingsDep,
    start: Start,
    end: End,
    every: Every = "1h",
    tz: Zone = DEFAULT_TZ,
    direction: Direction = None,
    compare: Compare = False,
    municipality: Municipality = None,
) -> Response:
    """People counted per interval at a site (all its counters together), per direction."""
    scope, visible = principal.scope(municipality)
    if not visible:
        raise Problem(404, f"no site named {site!r}", param="site")
    try:
        check_choice(every, ("15m", "1h", "1d", "1w"), "every")
        if direction is not None:
            check_choice(direction, DIRECTIONS, "direction")
        zone = parse_zone(tz)
        begin, finish = time_range(start, end, max_range_days=settings.api.max_range_days)
        ranges = {"current": (begin, finish)}
        shifts = _shifts(begin, zone) if compare else {}
        # the same local wall-clock range a week and a year (same ISO week) earlier, read at the same time
        ranges.update({name: (_back(begin, shift, zone), _back(finish, shift, zone)) for name, shift in shifts.items()})
        statements = [footfall_query(scope, site, first, last, every, zone.key, direction)
                      for first, last in ranges.values()]
    except ParamError as exc:
        raise param_problem(exc) from exc
    answers = await asyncio.gather(*(_counts(influx, statement) for statement in statements))
    current, *shifted = answers
    earlier: dict[str, dict[tuple[datetime, str, str], float | None]] = {}
    totals: dict[str, float | None] = dict.fromkeys(COMPARISONS)
    for (name, shift), rows in zip(shifts.items(), shifted, strict=True):
        earlier[name] = {(_local(int(r["time"]), zone) + shift, str(r.get("municipality")),
                          str(r.get("direction"))): number(r, "count") for r in rows}
        totals[name] = sum(number(r, "count") or 0.0 for r in rows)
    points = []
    for r in current:
        key = (_local(int(r["time"]), zone), str(r.get("municipality")), str(r.get("direction")))
        points.append({
            "time": format_time(int(r["time"]), zone), "municipality": key[1], "direction": key[2],
            "count": number(r, "count"), "complete": number(r, "complete"),
            "previous_week": earlier.get("previous_week", {}).get(key),
            "last_year": earlier.get("last_year", {}).get(key),
        })
    return json_answer({
        "site": site, "every": every, "tz": zone.key, "data": points, "total": sum(p["count"] or 0.0 for p in points),
        "total_previous_week": totals["previous_week"], "total_last_year": totals["last_year"],
        "licence": settings.api.licence, "attribution": settings.api.attribution,
    })
