"""``/v1/air``: air-quality stations with the European Air Quality Index now (open data) and per hour, and
exceedances of the EU limit values per year.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Response

from api.answers import json_answer
from api.deps import InfluxDep, OpenDataDep, PrincipalDep, RegistryDep, SettingsDep
from api.lookups import param_problem, query, visible_device
from api.models import AirStations, EaqiHours, Exceedance, Exceedances
from api.problems import Problem, responses
from api.queries import (
    BANDS,
    DEFAULT_TZ,
    PM_MEANS,
    ParamError,
    by_time,
    check_choice,
    eaqi_hours_query,
    eaqi_now_query,
    exceedances_query,
    format_time,
    number,
    parse_time,
    parse_zone,
    records,
    time_range,
    whole,
)

router = APIRouter(prefix="/v1/air", tags=["air quality"], responses=responses(401, 404, 422, 429, 503))

Municipality = Annotated[str | None, Query(max_length=200, description="Only stations of this municipality")]
Site = Annotated[str | None, Query(max_length=200, description="Only stations at this site")]
Bands = Annotated[str, Query(max_length=8, description="EAQI band table: 2024 (revised) or 2017")]
PmMean = Annotated[str, Query(max_length=8, description="PM averaging of the index: 1h or 24h")]
Year = Annotated[int, Query(ge=1970, le=2198, description="Calendar year")]


def station_row(row: dict[str, Any], dev_eui: str | None = None, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """An :class:`AirStation` of a record of :func:`eaqi_now_query` or :func:`eaqi_hours_query`, as plain JSON."""
    return {
        "dev_eui": dev_eui or str(row.get("dev_eui") or ""), "municipality": str(row.get("municipality") or ""),
        "site": str(row.get("site") or ""), "time": format_time(int(row["time"]), zone or UTC),
        "index": whole(row, "index"), "pm2_5": number(row, "pm2_5"), "pm10": number(row, "pm10"),
        "no2": number(row, "no2"), "o3": number(row, "o3"),
    }


def _choices(bands: str, pm_mean: str) -> None:
    try:
        check_choice(bands, BANDS, "bands")
        check_choice(pm_mean, PM_MEANS, "pm_mean")
    except ParamError as exc:
        raise param_problem(exc) from exc


@router.get("/eaqi", response_model=AirStations)
async def eaqi_now(
    principal: OpenDataDep,
    influx: InfluxDep,
    settings: SettingsDep,
    municipality: Municipality = None,
    site: Site = None,
    bands: Bands = "2024",
    pm_mean: PmMean = "1h",
) -> Response:
    """Every station's newest hourly index, with the concentrations it was made from (open data)."""
    _choices(bands, pm_mean)
    scope, visible = principal.scope(municipality)
    try:
        rows = records(await query(influx, eaqi_now_query(scope, bands, pm_mean, site))) if visible else []
    except ParamError as exc:
        raise param_problem(exc) from exc
    stations = sorted((station_row(r) for r in rows), key=lambda s: (s["municipality"], s["site"], s["dev_eui"]))
    return json_answer({"bands": bands, "pm_mean": pm_mean, "data": stations, "count": len(stations),
                        "licence": settings.api.licence, "attribution": settings.api.attribution})


@router.get("/stations/{dev_eui}/eaqi", response_model=EaqiHours)
async def eaqi_hours(
    dev_eui: Annotated[str, Path(max_length=64, description="The station's DevEUI")],
    principal: PrincipalDep,
    registry: RegistryDep,
    influx: InfluxDep,
    settings: SettingsDep,
    start: Annotated[str, Query(max_length=64, description="First instant, RFC 3339 with zone (inclusive)")],
    end: Annotated[str, Query(max_length=64, description="Last instant, RFC 3339 with zone (exclusive)")],
    bands: Bands = "2024",
    pm_mean: PmMean = "1h",
    every: Annotated[str, Query(max_length=8, description="1h, or 1d: the day's worst hour and mean values")] = "1h",
    tz: Annotated[str, Query(max_length=64, description="Zone of day boundaries and of the times out")] = DEFAULT_TZ,
) -> Response:
    """A station's index per hour or per local day, with the concentrations it was made from."""
    _choices(bands, pm_mean)
    device = await visible_device(registry, principal, dev_eui, param="dev_eui")
    try:
        zone = parse_zone(tz)
        begin, finish = time_range(start, end, max_range_days=settings.api.max_range_days)
        influxql = eaqi_hours_query(device.dev_eui, begin, finish, bands, pm_mean, every=every, zone=zone.key)
    except ParamError as exc:
        raise param_problem(exc) from exc
    rows = by_time(records(await query(influx, influxql)))
    place = {"municipality": device.municipality, "site": device.site}
    hours = [station_row({**r, **place}, device.dev_eui, zone) for r in rows]
    return json_answer({"dev_eui": device.dev_eui, "bands": bands, "pm_mean": pm_mean, "every": every,
                        "data": hours, "count": len(hours)})


@router.get("/exceedances", response_model=Exceedances)
async def exceedances(
    principal: PrincipalDep,
    influx: InfluxDep,
    year: Year,
    municipality: Municipality = None,
    site: Site = None,
) -> Response:
    """Per station: days with a PM10 daily mean above 50 µg/m³ and hours with NO2 above 200 µg/m³ in a year."""
    scope, visible = principal.scope(municipality)
    if not visible:
        raise Problem(404, f"no municipality named {municipality!r}", param="municipality")
    begin = parse_time(datetime(year, 1, 1, tzinfo=UTC).isoformat(), "year")
    finish = parse_time(datetime(year + 1, 1, 1, tzinfo=UTC).isoformat(), "year")
    try:
        rows = records(await query(influx, exceedances_query(scope, site, begin, finish)))
    except ParamError as exc:
        raise param_problem(exc) from exc
    found = sorted((Exceedance(
        dev_eui=str(r.get("dev_eui") or ""), municipality=str(r.get("municipality") or ""),
        site=str(r.get("site") or ""), pm10_valid_days=whole(r, "pm10_valid_days") or 0,
        pm10_days_over_limit=whole(r, "pm10_days_over_limit") or 0, no2_valid_hours=whole(r, "no2_valid_hours") or 0,
        no2_hours_over_limit=whole(r, "no2_hours_over_limit") or 0,
    ) for r in rows), key=lambda e: (e.municipality, e.site, e.dev_eui))
    return json_answer(Exceedances(year=year, data=found, count=len(found)))
