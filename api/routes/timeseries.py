"""``/v1/timeseries``: one quantity of a device or a site, raw or aggregated per interval, page by page.

JSON by default; CSV or NDJSON by ``format=`` or the ``Accept`` header. CSV and NDJSON carry the next page in
a ``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, Query, Request, Response

from api.answers import first_accepted, json_answer
from api.deps import InfluxDep, PrincipalDep, RegistryDep, SettingsDep
from api.lookups import visible_device
from api.models import TimeseriesPage
from api.problems import Problem, responses
from api.queries import (
    AGGREGATES,
    DEFAULT_TZ,
    ParamError,
    Row,
    SeriesRequest,
    cut_page,
    decode_cursor,
    encode_cursor,
    format_time,
    series_query,
    series_request,
    series_rows,
)
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable
from stadtpuls.schema import QUANTITIES

router = APIRouter(prefix="/v1/timeseries", tags=["timeseries"], responses=responses(401, 404, 422, 429, 503))

CSV, NDJSON, JSON = "text/csv", "application/x-ndjson", "application/json"
FORMATS = {"json": JSON, "csv": CSV, "ndjson": NDJSON}
_ACCEPTED = {CSV: CSV, NDJSON: NDJSON, "application/ndjson": NDJSON, JSON: JSON}

Every = Annotated[
    str | None,
    Query(max_length=16, description="Interval of the aggregates, e.g. `15m`, `1h`, `1d`, `1w`; none: raw readings"),
]
Agg = Annotated[str | None, Query(max_length=16, description=f"Aggregate per interval: {', '.join(AGGREGATES)}")]
Zone = Annotated[str, Query(max_length=64, description="Zone of day and week boundaries and of the times out")]
Limit = Annotated[
    int | None, Query(ge=1, le=1_000_000, description="Points per page: 1000 or the server's maximum if lower")
]

SERIES_CONTENT = {
    200: {
        "description": "One page of the series",
        "content": {
            CSV: {"schema": {"type": "string"}, "example": "time,value,dev_eui,channel\n"},
            NDJSON: {"schema": {"type": "string"}},
        },
    }
}


def _media_type(request: Request, fmt: str | None) -> str:
    if fmt is not None:
        return FORMATS[fmt]
    return first_accepted(request.headers.get("accept"), _ACCEPTED, JSON)


def _next_link(request: Request, cursor: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    return f"{request.url.path}?{urlencode([*params, ('cursor', cursor)])}"


@router.get("", response_model=TimeseriesPage, responses=SERIES_CONTENT)  # type: ignore[arg-type]
async def timeseries(
    request: Request,
    principal: PrincipalDep,
    settings: SettingsDep,
    registry: RegistryDep,
    influx: InfluxDep,
    quantity: Annotated[str, Query(max_length=64, description="Canonical quantity, e.g. `pm10`, `occupied`")],
    start: Annotated[str, Query(max_length=64, description="First instant, RFC 3339 with zone (inclusive)")],
    end: Annotated[str, Query(max_length=64, description="Last instant, RFC 3339 with zone (exclusive)")],
    dev_eui: Annotated[str | None, Query(max_length=64, description="One device (DevEUI)")] = None,
    site: Annotated[str | None, Query(max_length=200, description="One site: its devices' values together")] = None,
    municipality: Annotated[
        str | None, Query(max_length=200, description="The site's municipality (admin keys; others see their own)")
    ] = None,
    every: Every = None,
    agg: Agg = None,
    tz: Zone = DEFAULT_TZ,
    limit: Limit = None,
    cursor: Annotated[str | None, Query(max_length=100, description="`next_cursor` of the previous page")] = None,
    format: Annotated[str | None, Query(pattern="^(json|csv|ndjson)$", description="json, csv or ndjson")] = None,
) -> Response:
    """Values of one quantity of a device or a site between `start` and `end`.

    Without `every` the raw readings come back, each with its device; with `every` one aggregate per interval
    (per channel for a device; over all devices of a site). Intervals of a day or more start at midnight in
    `tz`, across DST changes. Pages hold at most `limit` points; `next` names the next page.
    """
    media = _media_type(request, format)
    scope, visible = principal.scope(municipality)
    if dev_eui is not None:
        device = await visible_device(registry, principal, dev_eui, param="dev_eui")
        dev_eui = device.dev_eui
    elif not visible:
        raise Problem(404, f"no site named {site!r}", param="site")
    try:
        spec = series_request(
            quantity=quantity, start=start, end=end, municipality=scope, dev_eui=dev_eui, site=site, every=every,
            agg=agg, tz=tz, limit=limit or min(1000, settings.api.max_points), max_points=settings.api.max_points,
            max_range_days=settings.api.max_range_days, rollups=settings.api.rollups,
        )
        page_start = decode_cursor(spec, cursor) if cursor is not None else spec.start
    except ParamError as exc:
        raise Problem(422, str(exc), param=exc.param, reason=exc.message) from exc
    spec, rows = await _read(influx, spec, page_start)
    page, next_start = cut_page(rows, spec.limit)
    next_cursor = encode_cursor(spec, next_start) if next_start is not None else None
    next_link = _next_link(request, next_cursor) if next_cursor else None
    zone = ZoneInfo(spec.tz)
    if media == JSON:
        return _json_page(spec, page, zone, next_cursor, next_link)
    headers = {"Link": f'<{next_link}>; rel="next"'} if next_link else {}
    body = _csv(page, zone) if media == CSV else _ndjson(page, zone)
    return Response(body, media_type=media, headers=headers)


async def _read(influx: InfluxClient, spec: SeriesRequest, start: int) -> tuple[SeriesRequest, list[Row]]:
    """The rows of one page; from raw data when the rollups' retention policy does not exist (yet)."""
    try:
        try:
            return spec, series_rows(spec, await influx.query(series_query(spec, start)))
        except InfluxRejected as exc:
            if not (spec.rollups and "retention policy not found" in exc.message):
                raise
        raw = replace(spec, rollups=False)
        return raw, series_rows(raw, await influx.query(series_query(raw, start)))
    except InfluxUnavailable as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    except InfluxRejected as exc:
        raise Problem(422, f"the query was refused: {exc.message}") from exc


def _json_page(
    spec: SeriesRequest, page: list[Row], zone: ZoneInfo, next_cursor: str | None, next_link: str | None
) -> Response:
    """A :class:`TimeseriesPage` of plain :class:`TimeseriesPoint` rows."""
    points = [
        {"time": format_time(r.time, zone), "value": r.value, "dev_eui": r.dev_eui, "channel": r.channel}
        for r in page
    ]
    return json_answer({
        "quantity": spec.quantity, "unit": QUANTITIES[spec.quantity].unit, "every": spec.every, "agg": spec.agg,
        "tz": spec.tz, "source": spec.source, "data": points, "count": len(points), "next_cursor": next_cursor,
        "next": next_link,
    })


def _csv(page: list[Row], zone: ZoneInfo) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "value", "dev_eui", "channel"])
    for r in page:
        writer.writerow([format_time(r.time, zone), "" if r.value is None else repr(r.value), r.dev_eui or "",
                         r.channel or ""])
    return out.getvalue()


def _ndjson(page: list[Row], zone: ZoneInfo) -> bytes:
    return b"".join(
        orjson.dumps({"time": format_time(r.time, zone), "value": r.value, "dev_eui": r.dev_eui,
                      "channel": r.channel}) + b"\n"
        for r in page
    )
