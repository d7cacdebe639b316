"""``/v1/reports/footfall``: the weekly footfall report of ``stadtpuls report footfall`` as PDF or HTML.

The route only checks the caller and the parameters; gathering and rendering are the report's own
(:mod:`reports.footfall.schedule`), rendering in the report's thread pool, off the event loop.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import StringConstraints

from api.answers import first_accepted
from api.deps import InfluxDep, PrincipalDep, RegistryDep, SettingsDep
from api.lookups import visible_devices
from api.problems import Problem, responses
from reports.footfall.schedule import Request as ReportRequest
from reports.footfall.schedule import file_name, gather_report, render_report
from reports.footfall.weeks import IsoWeek, WeekError, parse_week
from stadtpuls.errors import StadtpulsError, UnavailableError

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=responses(401, 404, 422, 429, 503))

MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
MAX_SITES = 50
# the HTML report is self-contained: inline styles, pictures as data URIs; nothing else may load or run
HTML_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'"

Week = Annotated[str, Query(max_length=16, description="ISO week, e.g. `2026-W47`; it must be over",
                            examples=["2026-W47"])]
SiteName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Sites = Annotated[list[SiteName] | None, Query(description="Only this footfall site (repeat for more); default: all")]
Municipality = Annotated[str | None, Query(max_length=200, description="The municipality (admin keys; default: "
                                                                       "the key's own, else the server's default)")]
Lang = Annotated[Literal["de", "en"], Query(description="Language, number and date formats")]
Format = Annotated[Literal["pdf", "html"] | None, Query(
    alias="format",
    description="`pdf` or `html`; when left out, `html` if the Accept header prefers text/html, else `pdf`")]

OK: dict[int | str, dict[str, Any]] = {200: {"description": "The report (A4 PDF, or one self-contained HTML page)",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
                        "text/html": {"schema": {"type": "string"}}}}}


def choose_format(fmt: str | None, accept: str | None) -> str:
    """The format asked for, else the one the Accept header names first (PDF unless it names HTML before)."""
    if fmt is not None:
        return fmt
    return first_accepted(accept, {"text/html": "html", "application/pdf": "pdf"}, "pdf")


def check_week(text: str, now_ns: int) -> IsoWeek:
    """The week: 422 for a malformed week or one that is not over.

    Raises:
        Problem: 422 naming the parameter ``week``.
    """
    try:
        week = parse_week(text)
    except WeekError as exc:
        raise Problem(422, str(exc), param="week") from exc
    if week.bounds()[1] > now_ns:
        raise Problem(422, f"week {week} is not over yet: it ends on Sunday {week.days[-1].isoformat()} "
                           "at midnight, Europe/Berlin", param="week")
    return week


@router.get("/footfall", response_class=Response, responses=OK)
async def footfall_report(
    principal: PrincipalDep,
    influx: InfluxDep,
    registry: RegistryDep,
    settings: SettingsDep,
    week: Week,
    site: Sites = None,
    municipality: Municipality = None,
    lang: Lang = "de",
    fmt: Format = None,
    accept: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The weekly footfall report of a municipality (any key of it): days, peak hours, hour × weekday, sites,
    directions, completeness and the anomalies of the week; 404 for a site or municipality the key may not see.
    """
    iso_week = check_week(week, time.time_ns())
    sites = tuple(dict.fromkeys(site or ()))
    if len(sites) > MAX_SITES:
        raise Problem(422, f"at most {MAX_SITES} sites, got {len(sites)}", param="site")
    scope, visible = principal.scope(municipality)
    town = scope or settings.default_municipality
    if not visible:
        raise Problem(404, f"no municipality named {municipality!r}", param="municipality")
    counters = [d for d in await visible_devices(registry, principal, municipality=town)
                if d.device_class == "footfall"]
    if not counters:
        raise Problem(404, f"municipality {town!r} has no footfall counters", param="municipality")
    known = {d.site for d in counters}
    for name in sites:
        if name not in known:
            raise Problem(404, f"no footfall site named {name!r}", param="site")
    chosen = choose_format(fmt, accept)
    request = ReportRequest(iso_week, town, sites, lang, chosen)
    try:
        report = await gather_report(influx, settings, request, labels={d.dev_eui: d.name for d in counters})
        content = await render_report(report, lang, chosen, logo=settings.report.logo)
    except UnavailableError as exc:  # InfluxDB or the registry database
        raise Problem(503, f"the report's data is unavailable: {exc}") from exc
    except StadtpulsError as exc:  # a bad calendar or logo file: the server's settings
        raise Problem(500, f"the report cannot be made: {exc}") from exc
    headers = {"Content-Disposition": f'inline; filename="{file_name(request)}"', "X-Content-Type-Options": "nosniff"}
    if chosen == "html":
        headers["Content-Security-Policy"] = HTML_POLICY
    return Response(content, media_type=MEDIA[chosen], headers=headers)
