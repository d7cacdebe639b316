"""The footfall report of a simulated week, from the API and against the API's own footfall resource.

The default town's footfall counters are written through the simulator's backfill and ingest (two weeks up to
the report week and the same week a year earlier, the counter ``bahnhofstrasse`` offline for six hours on the
Thursday), processed by the processing backfill, and looked at by the anomaly detection, which keeps its events
in the registry database. Then:

* the report's day totals (what was counted, without the estimates for gaps), the week before and the same week
  last year agree exactly with ``/v1/footfall/{site}`` for every site and for the town;
* the report names the counter outage from the events store, and none of another device or municipality;
* ``/v1/reports/footfall`` answers a reader key with the PDF and the HTML, another municipality's key with 404,
  no key with 401 and bad weeks, languages and formats with problem+json.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore, Role
from devices.registry import DeviceRegistry
from devtools.localstack import InfluxServer, create_database, drop_database
from devtools.report_pages import LEAD_DAYS, footfall_town, outage_spec
from firmware_sim.backfill import run_backfill
from firmware_sim.town import load_town, town_path
from processing.events import Detection, EventStore
from reports.footfall import text
from reports.footfall.data import WeekReport
from reports.footfall.schedule import Request, gather_report
from reports.footfall.weeks import BERLIN, IsoWeek, last_complete_week
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, ReportSettings, Settings

pytestmark = pytest.mark.integration

WEEK = IsoWeek(2026, 11)  # 9-15 March 2026; 52 weeks earlier is ISO week 11 of 2025, as the report compares
TOWN, OTHER = "Lindenbrück", "Nachbarort"
SITES = ("fussgaengerzone", "marktplatz")
OTHER_COUNTER = "24E124FA0000FF01"  # a counter of the other municipality
PARKING_BAY = "00A0B7C000000001"  # a parking sensor of the town: its events are not the report's


def _local_midnight(day: Any) -> datetime:
    return datetime.combine(day, datetime.min.time(), BERLIN)


@pytest.fixture(scope="module")
def town_data(influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The backfilled, processed and examined town (once for the module)."""
    folder = tmp_path_factory.mktemp("report-town")
    name = "test_report_api"
    create_database(influxdb.url, name)
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=name), data_dir=folder,
                        report=ReportSettings(town="Stadt Lindenbrück", calendar=town_path("default")))
    town = footfall_town(folder)
    spans = [(WEEK.previous().monday - timedelta(days=LEAD_DAYS), 7 * 2 + LEAD_DAYS + 1),  # to the Monday after
             (WEEK.year_before().monday - timedelta(days=LEAD_DAYS), 7 + LEAD_DAYS + 1)]
    for n, (first, days) in enumerate(spans):
        run_backfill(settings, town=town, days=days, start=first, workers=2,
                     faults=outage_spec(WEEK, folder) if n == 0 else None,
                     ground_truth_path=folder / "truth.json" if n == 0 else None)
        asyncio.run(_process(settings, _local_midnight(first), _local_midnight(first + timedelta(days=days))))
    from processing.anomaly_job import detect_window

    start, end = (_local_midnight(d) for d in (WEEK.monday, WEEK.days[-1] + timedelta(days=1)))
    detect_window(settings, start=start.astimezone(UTC), end=end.astimezone(UTC), timezone=str(BERLIN))
    registry = DeviceRegistry(settings.registry_url)
    registry.upsert(OTHER_COUNTER, model="milesight-vs133", name="altstadt-nord", site="altstadt", municipality=OTHER)
    registry.upsert(PARKING_BAY, model="nwave-nps405", name="bay-1", site="marktstrasse", municipality=TOWN)
    thursday = _local_midnight(WEEK.days[3]).timestamp()
    EventStore(settings.registry_url).upsert([
        Detection(PARKING_BAY, "occupied", "", "stuck", thursday, thursday, thursday + 3600, 5.0, "bay frozen",
                  municipality=TOWN, site="marktstrasse"),
        Detection(OTHER_COUNTER, "people_in", "", "gap", thursday, thursday, thursday + 7200, 1.0, "not heard",
                  municipality=OTHER, site="altstadt"),
    ])
    yield settings
    drop_database(influxdb.url, name)


async def _process(settings: Settings, start: datetime, end: datetime) -> None:
    from processing.airquality import load_bands
    from processing.engine import Options
    from processing.service import ProcessingService

    await ProcessingService(settings, Options(load_bands())).backfill(int(start.timestamp()) * 10**9,
                                                                      int(end.timestamp()) * 10**9)


@dataclass
class Api:
    client: httpx.AsyncClient
    keys: dict[str, dict[str, str]]


@pytest.fixture
async def api(town_data: Settings) -> AsyncIterator[Api]:
    app = create_app(town_data)
    async with app.router.lifespan_context(app):
        store: KeyStore = app.state.keys
        keys = {"reader": {"X-API-Key": store.create(Role.READER, municipality=TOWN)[1]},
                "other": {"X-API-Key": store.create(Role.READER, municipality=OTHER)[1]},
                "admin": {"X-API-Key": store.create(Role.ADMIN)[1]}, "none": {}}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api",
                                     timeout=120) as client:
            yield Api(client, keys)


async def report_of(settings: Settings, sites: tuple[str, ...] = ()) -> WeekReport:
    labels = {d.dev_eui: d.name for d in load_town("default").devices}
    async with InfluxClient.from_settings(settings.influx) as client:
        return await gather_report(client, settings, Request(WEEK, TOWN, sites), labels=labels)


async def api_days(api: Api, site: str) -> dict[str, list[float]]:
    """The API's people per local day of the week (both directions), the week before and 52 weeks earlier."""
    start, end = (_local_midnight(d).isoformat() for d in (WEEK.monday, WEEK.days[-1] + timedelta(days=1)))
    response = await api.client.get(f"/v1/footfall/{site}", headers=api.keys["reader"], params={
        "start": start, "end": end, "every": "1d", "compare": "true"})
    assert response.status_code == 200, response.text
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for point in response.json()["data"]:
        for field in ("count", "previous_week", "last_year"):
            sums[field][point["time"][:10]] += point[field] or 0.0
    days = [d.isoformat() for d in WEEK.days]
    return {field: [sums[field][d] for d in days] for field in ("count", "previous_week", "last_year")}


def agree(report: list[float | None], served: list[float]) -> None:
    """The same people per day: hourly counts are fractional (processing spreads a counter's increase over the
    hours it spans), and InfluxDB and the report add the same hours in a different order, so the sums agree to
    the last bits of a float and exactly in the whole people the report prints.
    """
    numbers = [value or 0.0 for value in report]
    assert None not in report
    assert [round(v) for v in numbers] == [round(v) for v in served]
    assert numbers == pytest.approx(served, rel=1e-12, abs=1e-9)


async def test_the_report_agrees_with_the_footfall_resource(town_data: Settings, api: Api) -> None:
    town = await report_of(town_data)
    assert town.sites == SITES
    whole: dict[str, list[float]] = {field: [0.0] * 7 for field in ("count", "previous_week", "last_year")}
    for site in SITES:
        served = await api_days(api, site)
        report = await report_of(town_data, (site,))
        agree([d.total - d.estimated for d in report.days], served["count"])
        agree([d.previous for d in report.days], served["previous_week"])
        agree([d.last_year for d in report.days], served["last_year"])
        assert not any(d.previous_incomplete or d.last_year_incomplete for d in report.days)
        [row] = report.site_rows
        agree([row.total], [sum(served["count"]) + sum(d.estimated for d in report.days)])
        for field, values in served.items():
            whole[field] = [a + b for a, b in zip(whole[field], values, strict=True)]
    agree([d.total - d.estimated for d in town.days], whole["count"])
    agree([d.previous for d in town.days], whole["previous_week"])
    agree([d.last_year for d in town.days], whole["last_year"])
    agree([town.previous_total, town.last_year_total], [sum(whole["previous_week"]), sum(whole["last_year"])])
    assert min(whole["count"]) > 1000  # a real week of a town centre, not an empty one
    thursday = town.days[3]
    assert thursday.estimated > 0  # the outage, estimated from the Thursday before and marked
    assert sum(d.estimated for d in town.days) == thursday.estimated


async def test_the_report_names_the_outage_from_the_events_store(town_data: Settings) -> None:
    report = await report_of(town_data)
    gaps = [a for a in report.anomalies if a.kind == "gap"]
    assert gaps, report.anomalies
    names = {d.dev_eui: d.name for d in load_town("default").devices}
    assert {names[a.dev_eui] for a in gaps} == {"bahnhofstrasse"}
    assert all(a.start.date() == WEEK.days[3] for a in gaps)
    assert PARKING_BAY not in {a.dev_eui for a in report.anomalies}
    assert OTHER_COUNTER not in {a.dev_eui for a in report.anomalies}
    stored = EventStore(town_data.registry_url).list(municipality=TOWN)
    counters = {d.dev_eui for d in load_town("default").devices}
    in_week = {(a.dev_eui, a.kind, a.start) for a in stored if a.dev_eui in counters}
    assert {(a.dev_eui, a.kind, a.start.astimezone(UTC)) for a in report.anomalies} == in_week


def pdf_info(pdf: bytes, tmp_path: Path) -> tuple[int, str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    words = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True,
                           text=True).stdout
    return pages, words


async def test_a_reader_gets_the_report_as_pdf_and_html(town_data: Settings, api: Api, tmp_path: Path) -> None:
    report = await report_of(town_data)
    response = await api.client.get("/v1/reports/footfall", headers=api.keys["reader"],
                                    params={"week": str(WEEK), "lang": "de", "format": "pdf"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="footfall-lindenbrueck-2026-W11-de.pdf"' in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-")
    pages, words = pdf_info(response.content, tmp_path)
    assert pages >= 3
    assert f"Seite 1 von {pages}" in words
    assert text.number(report.total, "de") in words
    assert "bahnhofstrasse" in words  # the outage, from the events store
    assert "keine Daten" in words
    assert "Quelle und Methode" in words

    html = await api.client.get("/v1/reports/footfall", headers={**api.keys["reader"], "Accept": "text/html"},
                                params={"week": str(WEEK), "lang": "en", "site": "marktplatz"})
    assert html.status_code == 200, html.text
    assert html.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in html.headers["content-security-policy"]
    marktplatz = await report_of(town_data, ("marktplatz",))
    assert f"{text.number(marktplatz.total, 'en')}" in html.text
    assert text.number(report.total, "en") not in html.text  # the one site, not the town
    assert html.text.lstrip().startswith("<!DOCTYPE html>")


async def test_another_municipality_gets_nothing_and_no_key_gets_401(api: Api) -> None:
    week = {"week": str(WEEK)}
    for params in ({**week, "site": "fussgaengerzone"}, {**week, "municipality": TOWN}):
        refused = await api.client.get("/v1/reports/footfall", headers=api.keys["other"], params=params)
        assert refused.status_code == 404, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
    own = await api.client.get("/v1/reports/footfall", headers=api.keys["other"], params={**week, "format": "html"})
    assert own.status_code == 200
    for name in ("fussgaengerzone", "marktplatz", "bahnhofstrasse"):
        assert name not in own.text
    assert (await api.client.get("/v1/reports/footfall", params=week)).status_code == 401
    admin = await api.client.get("/v1/reports/footfall", headers=api.keys["admin"],
                                 params={**week, "municipality": TOWN, "site": "marktplatz", "format": "html"})
    assert admin.status_code == 200


@pytest.mark.parametrize(("params", "param"), [
    ({"week": "2026-W99"}, "week"),
    ({"week": "2026-47"}, "week"),
    ({"week": "'; DROP"}, "week"),
    ({"week": str(WEEK), "lang": "fr"}, "lang"),
    ({"week": str(WEEK), "format": "docx"}, "format"),
    ({}, "week"),
])
async def test_bad_parameters_are_problems_naming_the_parameter(api: Api, params: dict[str, str], param: str) -> None:
    response = await api.client.get("/v1/reports/footfall", headers=api.keys["reader"], params=params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == param


async def test_a_week_not_yet_over_is_refused(api: Api) -> None:
    running = last_complete_week(datetime.now(UTC), grace=timedelta(0)).next()
    response = await api.client.get("/v1/reports/footfall", headers=api.keys["reader"],
                                    params={"week": str(running)})
    assert response.status_code == 422
    assert "not over" in response.json()["detail"]
    assert response.json()["invalid_params"][0]["name"] == "week"


async def test_the_report_is_in_the_openapi_document(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/reports/footfall"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/pdf", "text/html"}
    assert {p["name"] for p in operation["parameters"]} >= {"week", "site", "municipality", "lang", "format"}
    assert operation["responses"]["404"]["content"]["application/problem+json"]
