"""``/v1/parking``: lots with their availability now (open data) and their occupancy over time."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response

from api.answers import json_answer
from api.deps import InfluxDep, OpenDataDep, PrincipalDep, SettingsDep
from api.lookups import param_problem, query
from api.models import OccupancySeries, ParkingLot, ParkingLots
from api.problems import Problem, responses
from api.queries import (
    DEFAULT_TZ,
    ParamError,
    availability_query,
    by_time,
    check_choice,
    format_time,
    number,
    occupancy_query,
    parse_zone,
    records,
    time_range,
    whole,
)

router = APIRouter(prefix="/v1/parking", tags=["parking"], responses=responses(401, 404, 422, 429, 503))

Municipality = Annotated[str | None, Query(max_length=200, description="Only lots of this municipality")]
Site = Annotated[str, Path(max_length=200, description="The lot's site name")]
Start = Annotated[str, Query(max_length=64, description="First instant, RFC 3339 with zone (inclusive)")]
End = Annotated[str, Query(max_length=64, description="Last instant, RFC 3339 with zone (exclusive)")]
Every = Annotated[str, Query(max_length=8, description="15m, 1h, 1d or 1w; days and weeks are local to `tz`")]
Zone = Annotated[str, Query(max_length=64, description="Zone of day and week boundaries and of the times out")]


def _lot(row: dict[str, Any]) -> ParkingLot:
    free, occupied = whole(row, "free") or 0, whole(row, "occupied") or 0
    known = free + occupied
    return ParkingLot(
        id=f"{row['municipality']}/{row['site']}", name=str(row["site"]), municipality=str(row["municipality"]),
        totalSpotNumber=whole(row, "capacity") or 0, availableSpotNumber=free, occupiedSpotNumber=occupied,
        unknownSpotNumber=whole(row, "unknown") or 0, occupancy=occupied / known if known else None,
        dateObserved=format_time(int(row["time"])),
    )


@router.get("", response_model=ParkingLots)
async def parking_now(
    principal: OpenDataDep, influx: InfluxDep, settings: SettingsDep, municipality: Municipality = None
) -> Response:
    """Every lot's availability now: free, occupied and unknown bays (open data)."""
    scope, visible = principal.scope(municipality)
    try:
        rows = records(await query(influx, availability_query(scope))) if visible else []
    except ParamError as exc:
        raise param_problem(exc) from exc
    lots = sorted((_lot(r) for r in rows), key=lambda lot: lot.id)
    return json_answer(ParkingLots(data=lots, count=len(lots), licence=settings.api.licence,
                                   attribution=settings.api.attribution))


@router.get("/{site}/occupancy", response_model=OccupancySeries)
async def occupancy(
    site: Site,
    principal: PrincipalDep,
    influx: InfluxDep,
    settings: SettingsDep,
    start: Start,
    end: End,
    every: Every = "1h",
    tz: Zone = DEFAULT_TZ,
    municipality: Municipality = None,
) -> Response:
    """How full a lot was per interval: the time-weighted occupied share of its bays whose state was known."""
    scope, visible = principal.scope(municipality)
    if not visible:
        raise Problem(404, f"no parking lot named {site!r}", param="site")
    try:
        check_choice(every, ("15m", "1h", "1d", "1w"), "every")
        zone = parse_zone(tz)
        begin, finish = time_range(start, end, max_range_days=settings.api.max_range_days)
        influxql = occupancy_query(scope, site, begin, finish, every, zone.key)
    except ParamError as exc:
        raise param_problem(exc) from exc
    points = [occupancy_row(r, zone) for r in by_time(records(await query(influx, influxql)), "municipality")]
    return json_answer({"site": site, "every": every, "tz": zone.key, "data": points, "count": len(points)})


def occupancy_row(row: dict[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """An :class:`OccupancyPoint` of a record of :func:`occupancy_query`, as plain JSON."""
    return {
        "time": format_time(int(row["time"]), zone), "municipality": str(row.get("municipality") or ""),
        "occupancy": number(row, "occupancy"), "coverage": number(row, "coverage"), "bays": whole(row, "bays"),
    }
