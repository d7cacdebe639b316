"""Every panel query of every board, with Grafana's macros substituted as Grafana does, against a real InfluxDB
filled by the simulated town and processed: each must run and return data, for "All" and for a choice of
several sites. The town runs yesterday and today, and two days a week and two a year before (so that a whole
UTC day has daily totals), for the panels that compare with last week and last year.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboards.boards import build_all, panels
from dashboards.macros import ALL, Variable, panel_range, substitute
from devtools.localstack import InfluxServer, create_database, drop_database
from firmware_sim.backfill import run_backfill
from processing.airquality import load_bands
from processing.engine import Options
from processing.service import ProcessingService
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, Settings

pytestmark = pytest.mark.integration
BOARDS = build_all()
TOWN_ZONE = ZoneInfo("Europe/Berlin")
_FROM = re.compile(r'FROM (?:"\w+"\.)?"(\w+)"')
# (days before today, days) of the town: yesterday and today, two days a week and two a year before
PERIODS = ((1, 2), (9, 2), (366, 2))


@pytest.fixture(scope="module")
def town(influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The default town over :data:`PERIODS` (local days, so the data reaches past now), processed, in a fresh
    database; one live processing pass writes the lots' availability now.
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    create_database(influxdb.url, name)
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=name), data_dir=tmp_path_factory.mktemp("town"))
    today: date = datetime.now(TOWN_ZONE).date()
    service = ProcessingService(settings, Options(load_bands()))
    for days_ago, days in PERIODS:
        first = today - timedelta(days=days_ago)
        result = run_backfill(settings, town="default", days=days, start=first, workers=2)
        assert result.uplinks > 4_000
        start = datetime.combine(first, datetime.min.time(), TOWN_ZONE)
        end = min(start + timedelta(days=days), datetime.now(UTC))
        report = asyncio.run(service.backfill(_ns(start), _ns(end)))
        assert report.points > 0
    asyncio.run(service.run_pass())
    yield settings
    drop_database(influxdb.url, name)


def _ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def _range(board: dict[str, Any], panel: dict[str, Any]) -> tuple[datetime, datetime]:
    return panel_range(board, panel, end=datetime.now(UTC), zone=TOWN_ZONE)



def _targets() -> list[Any]:
    return [
        pytest.param(name, panel, target["query"], id=f"{name}:{panel['title']}:{target['refId']}")
        for name, board in BOARDS.items() for panel in panels(board) for target in panel["targets"]
    ]


async def _run(settings: Settings, query: str) -> list[dict[str, Any]]:
    async with InfluxClient.from_settings(settings.influx, timeout=60) as influx:
        return await influx.query(query, epoch="ms")


def _values(series: list[dict[str, Any]]) -> list[Any]:
    return [value for s in series for row in s["values"] for value in row[1:] if value is not None]


def _tag_values(settings: Settings, board: dict[str, Any], name: str, variables: dict[str, Variable]) -> list[str]:
    definition = next(v for v in board["templating"]["list"] if v["name"] == name)
    start, end = _range(board, {})
    query = substitute(definition["query"], start=start, end=end, variables=variables)
    return [row[1] for s in asyncio.run(_run(settings, query)) for row in s["values"]]


EVERYTHING = {"municipality": Variable("municipality", [ALL]), "site": Variable("site", [ALL])}


@pytest.mark.parametrize(("board", "panel", "query"), _targets())
def test_every_panel_query_returns_data_for_all_places(town: Settings, board: str, panel: dict[str, Any],
                                                       query: str) -> None:
    start, end = _range(BOARDS[board], panel)
    text = substitute(query, start=start, end=end, variables=EVERYTHING)
    series = asyncio.run(_run(town, text))
    assert _values(series), f"{board}: {panel['title']!r} returned no data for\n{text}"


def _show(settings: Settings, measurement: str, key: str, where: str = "") -> list[str]:
    query = f'SHOW TAG VALUES FROM "{measurement}" WITH KEY = "{key}"{where}'
    return [row[1] for s in asyncio.run(_run(settings, query)) for row in s["values"]]


@pytest.mark.parametrize("board", list(BOARDS))
def test_every_panel_query_returns_data_for_a_choice_of_sites(town: Settings, board: str) -> None:
    """The municipality with the most sites and two of its sites, as someone would pick them for the panel."""
    model = BOARDS[board]
    empty = []
    for panel in panels(model):
        start, end = _range(model, panel)
        for target in panel["targets"]:
            measurement = _FROM.search(target["query"])
            assert measurement is not None
            sites_of = {m: _show(town, measurement.group(1), "site", f" WHERE \"municipality\" = '{m}'")
                        for m in _show(town, measurement.group(1), "municipality")}
            municipality = max(sites_of, key=lambda m: len(sites_of[m]))
            sites = sites_of[municipality]
            chosen = {"municipality": Variable("municipality", [municipality]), "site": Variable("site", sites[:2])}
            text = substitute(target["query"], start=start, end=end, variables=chosen)
            if not _values(asyncio.run(_run(town, text))):
                empty.append(f"{panel['title']!r}: {text}")
    assert empty == [], f"{board}: no data from"


def test_the_variables_offer_the_places_of_the_town(town: Settings) -> None:
    for name, model in BOARDS.items():
        municipalities = _tag_values(town, model, "municipality", EVERYTHING)
        assert len(municipalities) >= 1, name
        chosen = {"municipality": Variable("municipality", municipalities[:1])}
        sites = _tag_values(town, model, "site", chosen)
        assert sites, name
        assert set(sites) <= set(_tag_values(town, model, "site", EVERYTHING)), name


def test_the_choice_of_sites_narrows_the_result(town: Settings) -> None:
    model = BOARDS["fleet-health"]
    start, end = _range(model, {})
    query = next(t["query"] for p in panels(model) if p["title"] == "Devices heard" for t in p["targets"])
    everything = _values(asyncio.run(_run(town, substitute(query, start=start, end=end, variables=EVERYTHING))))
    sites = _tag_values(town, model, "site", EVERYTHING)
    one = {"municipality": Variable("municipality", [ALL]), "site": Variable("site", sites[:1])}
    narrowed = _values(asyncio.run(_run(town, substitute(query, start=start, end=end, variables=one))))
    assert 0 < narrowed[0] < everything[0]
