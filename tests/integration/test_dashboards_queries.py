"""Every panel query of every board, with Grafana's macros substituted as Grafana does, against a real InfluxDB
filled by the simulated town and processed: each must run and return data, for "All" and for a choice of
several sites. The town runs yesterday and today, and two days a week and two a year before (so that a whole
UTC day has daily totals), for the panels that compare with last week and last year. In the last hours a few
faults (garbled payloads, an implausible value, an unknown device, an air station gone silent) give the fleet
summaries something to count; the alarms check, anomaly detection and one fleet summary run as the services do.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from dashboards.boards import build_all, panels
from dashboards.macros import ALL, Variable, panel_range, substitute
from dashboards.transformations import apply, table_frame
from devices.alarms import AlarmStore, check
from devices.records import Status
from devices.registry import DeviceRegistry
from devtools.localstack import InfluxServer, create_database, drop_database
from firmware_sim.backfill import run_backfill
from ingest.quarantine import QuarantineStore
from processing.airquality import load_bands
from processing.engine import Options
from processing.events import EventStore
from processing.service import ProcessingService
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import InfluxSettings, Settings

pytestmark = pytest.mark.integration
BOARDS = build_all()
TOWN_ZONE = ZoneInfo("Europe/Berlin")
_FROM = re.compile(r'FROM (?:"\w+"\.)?"(\w+)"')
# (days before today, days) of the town: yesterday and today, two days a week and two a year before
PERIODS = ((1, 2), (9, 2), (366, 2))
SILENT_STATION = "stadtpark"  # the site of the air station that goes silent 3 hours before now
# (kind, device, hours before now it starts, hours it lasts): faults of the first period
FAULTS = (
    ("garbled_payload", "obere-marktstrasse", 5, 2),
    ("implausible_value", "ring-ost", 4, 1),
    ("unknown_device", "ring-nord", 6, 1),
    ("offline", "stadtpark", 3, 48),
)


def _fault_spec(path: Path) -> Path:
    now = datetime.now(TOWN_ZONE)
    lines = ["faults:"]
    for kind, device, before, hours in FAULTS:
        start = (now - timedelta(hours=before)).strftime("%Y-%m-%dT%H:%M")
        lines.append(f"  - {{kind: {kind}, device: {device}, start: '{start}', duration: {hours}h}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def town(influxdb: InfluxServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """The default town over :data:`PERIODS` (local days, so the data reaches past now) with :data:`FAULTS`,
    processed, in a fresh database; one live processing pass writes the lots' availability now, then the
    alarms check, anomaly detection and a fleet summary run.
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    create_database(influxdb.url, name)
    folder = tmp_path_factory.mktemp("town")
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=name), data_dir=folder)
    today: date = datetime.now(TOWN_ZONE).date()
    service = ProcessingService(settings, Options(load_bands()))
    for days_ago, days in PERIODS:
        first = today - timedelta(days=days_ago)
        faults = _fault_spec(folder / "faults.yaml") if days_ago == PERIODS[0][0] else None
        result = run_backfill(settings, town="default", days=days, start=first, workers=2, faults=faults)
        assert result.uplinks > 4_000
        start = datetime.combine(first, datetime.min.time(), TOWN_ZONE)
        end = min(start + timedelta(days=days), datetime.now(UTC))
        report = asyncio.run(service.backfill(_ns(start), _ns(end)))
        assert report.points > 0
    asyncio.run(service.run_pass())
    asyncio.run(_check_alarms(settings))
    assert asyncio.run(service.detect_anomalies()).errors == []
    asyncio.run(service.summarise_fleet())
    yield settings
    drop_database(influxdb.url, name)


async def _check_alarms(settings: Settings) -> None:
    """The alarms check as ``stadtpuls alarms check`` runs it, the counters and air stations in service (the
    town registers its devices as installed now, after their history).
    """
    registry = DeviceRegistry(settings.registry_url)
    for device in registry.list():
        if device.device_class != "parking":
            registry.set_status(device.dev_eui, Status.ACTIVE, by="test", note="in the field before the history")
    async with InfluxClient.from_settings(settings.influx, timeout=60) as influx:
        await check(registry, AlarmStore(settings.registry_url), influx)


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


# --- the fleet summaries ----------------------------------------------------------------------------------------

def _one(settings: Settings, query: str) -> float:
    series = asyncio.run(_run(settings, query))
    assert series, query
    return float(series[0]["values"][0][1])


def _by_tags(settings: Settings, query: str, *keys: str) -> dict[tuple[str, ...], float]:
    """The first value of each series of ``query`` by the values of its tags ``keys`` ("" where absent)."""
    return {tuple((s.get("tags") or {}).get(k, "") for k in keys): float(s["values"][0][1])
            for s in asyncio.run(_run(settings, query))}


_LATEST_OPEN = 'SELECT last("open") AS "open" FROM "{}" GROUP BY "municipality", "site", "kind"'


def test_the_fleet_summary_counts_the_open_alarms_and_anomalies_of_the_registry(town: Settings) -> None:
    alarms = AlarmStore(town.registry_url).list()
    assert alarms
    assert _one(town, f'SELECT sum("open") FROM ({_LATEST_OPEN.format("fleet_alarms")})') == len(alarms)
    latest = _LATEST_OPEN.format("fleet_alarms")
    per_kind = _by_tags(town, f'SELECT sum("open") FROM ({latest}) GROUP BY "site", "kind"', "site", "kind")
    # offline, or never seen when its last uplink lies before its installation day (UTC) began
    assert per_kind[(SILENT_STATION, "offline")] + per_kind[(SILENT_STATION, "never_seen")] == 1
    assert set(k for _, k in per_kind) == {"offline", "never_seen", "low_battery", "weak_signal", "repeated_resets",
                                           "quarantine_burst"}
    events = EventStore(town.registry_url).list(open_only=True)
    assert _one(town, f'SELECT sum("open") FROM ({_LATEST_OPEN.format("fleet_anomalies")})') == len(events)
    anomalies = _by_tags(town, f'SELECT sum("open") FROM ({_LATEST_OPEN.format("fleet_anomalies")}) '
                               'GROUP BY "site", "kind"', "site", "kind")
    assert anomalies[(SILENT_STATION, "gap")] >= 1


def test_the_fleet_summary_counts_every_quarantined_message_by_place_and_stage(town: Settings) -> None:
    stored = QuarantineStore(town.registry_url).count()
    assert stored > 0
    assert _one(town, 'SELECT sum("messages") FROM "fleet_quarantine"') == stored
    stages = _by_tags(town, 'SELECT sum("messages") FROM "fleet_quarantine" GROUP BY "site", "stage"',
                      "site", "stage")
    assert stages[("fussgaengerzone", "codec")] > 0  # the garbled payloads of a footfall counter
    assert stages[("ring", "normalise")] > 0  # the implausible PM2.5
    assert stages[("", "device")] > 0  # the unknown device: no place


def test_the_fleet_summary_measures_lag_and_places_the_lots(town: Settings) -> None:
    ingest = _by_tags(town, 'SELECT last("ingest") FROM "fleet_lag" GROUP BY "site"', "site")
    assert 3 * 3600 - 120 <= ingest[(SILENT_STATION,)] <= 3 * 3600 + 1800  # silent 3 hours before the summary
    assert min(ingest.values()) < 1800  # the footfall counters report every few minutes
    processing = _by_tags(town, 'SELECT last("processing") FROM "fleet_lag" GROUP BY "site"', "site")
    assert set(processing) == set(ingest)
    assert all(0 <= lag < 3600 for lag in processing.values())
    positions = asyncio.run(_run(town, 'SELECT last("lat"), last("lon") FROM "lot_availability" GROUP BY "site"'))
    lots = {s["tags"]["site"]: s["values"][0][1:] for s in positions}
    assert set(lots) == {"freibad", "marktstrasse", "parkhaus-altstadt", "pr-bahnhof"}
    for lat, lon in lots.values():  # around the town's centre, 50.7302 N 9.2418 E
        assert abs(lat - 50.7302) < 0.05
        assert abs(lon - 9.2418) < 0.08


def test_the_map_of_lots_gets_position_and_occupancy_of_every_lot(town: Settings) -> None:
    model = BOARDS["parking"]
    panel = next(p for p in panels(model) if p["type"] == "geomap")
    start, end = _range(model, panel)
    text = substitute(panel["targets"][0]["query"], start=start, end=end, variables=EVERYTHING)
    frame = table_frame(asyncio.run(_run(town, text)))
    layer = panel["options"]["layers"][0]
    assert layer["location"] == {"mode": "coords", "latitude": "latitude", "longitude": "longitude"}
    colour = layer["config"]["style"]["color"]["field"]
    assert sorted(frame["site"]) == ["freibad", "marktstrasse", "parkhaus-altstadt", "pr-bahnhof"]
    for row in range(len(frame["site"])):
        assert 50.6 < frame["latitude"][row] < 50.8
        assert 9.1 < frame["longitude"][row] < 9.4
        assert 0 <= frame[colour][row] <= 1
        free, occupied = frame["free"][row], frame["occupied"][row]
        assert frame[colour][row] == pytest.approx(occupied / (free + occupied))
        assert free + occupied + frame["unknown"][row] == frame["capacity"][row]

# --- the hour × weekday matrices, through Grafana's transformations ---------------------------------------------

WEEK_LOTS = {"lot-a": 0.0, "lot-b": 0.2, "lot-c": 0.1}  # site → offset of its occupancy


def _occupancy(site: str, moment: datetime) -> float:
    """A lot's occupancy in the local hour that starts at ``moment``: known from weekday and hour alone."""
    return round(WEEK_LOTS[site] + (moment.isoweekday() * 24 + moment.hour) % 50 / 100, 4)


def _people(site: str, moment: datetime) -> float:
    return float((1 + list(WEEK_LOTS).index(site)) * (moment.isoweekday() * 100 + moment.hour))


@pytest.fixture(scope="module")
def week(influxdb: InfluxServer) -> Iterator[Settings]:
    """Hourly occupancy of three lots and hourly footfall of three places over the last eight days, each value a
    function of the local weekday and hour only, in a database of its own.
    """
    name = f"test_{uuid.uuid4().hex[:12]}"
    create_database(influxdb.url, name)
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=name))
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    lines = []
    for step in range(8 * 24 + 1):
        moment = hour - timedelta(hours=step)
        local = moment.astimezone(TOWN_ZONE)
        for site in WEEK_LOTS:
            place = f"municipality=Musterstadt,site={site}"
            lines.append(f"lot_occupancy,{place},class=parking occupancy={_occupancy(site, local)} {_ns(moment)}")
            lines.append(f"footfall_site,{place},class=footfall,direction=in count={_people(site, local)} "
                         f"{_ns(moment)}")

    async def fill() -> None:
        async with InfluxClient.from_settings(settings.influx) as influx:
            await influx.create_retention_policy("r1h", duration="INF")
            await influx.write("\n".join(lines), retention_policy="r1h")

    asyncio.run(fill())
    yield settings
    drop_database(influxdb.url, name)


MATRICES = (
    ("parking", "Occupancy by hour and weekday", lambda local: sum(_occupancy(s, local) for s in WEEK_LOTS) / 3),
    ("footfall", "Weekday profile", lambda local: sum(_people(s, local) for s in WEEK_LOTS)),
)


@pytest.mark.parametrize(("board", "title", "expected"), MATRICES, ids=[m[0] for m in MATRICES])
def test_the_hour_by_weekday_matrix_is_seven_days_by_24_hours_of_the_data(
        week: Settings, board: str, title: str, expected: Any) -> None:
    """The panel's query on the real InfluxDB, then the panel's transformations as Grafana applies them (in the
    dashboard's zone, which the stack makes every viewer's default): hours 00–23 down, Monday to Sunday across,
    each cell the mean of that local weekday and hour over the range, as the data were made.
    """
    model = BOARDS[board]
    panel = next(p for p in panels(model) if p["title"] == title)
    start, end = _range(model, panel)
    if (end - start) < timedelta(days=7):
        start = end - timedelta(days=7)  # a week, whatever the board's default range
    text = substitute(panel["targets"][0]["query"], start=start, end=end, variables=EVERYTHING)
    frames = [table_frame(asyncio.run(_run(week, text)))]
    [matrix] = apply(panel["transformations"], frames, zone=ZoneInfo(model["timezone"]))
    days = ["1-Mon", "2-Tue", "3-Wed", "4-Thu", "5-Fri", "6-Sat", "7-Sun"]
    assert list(matrix) == ["hour\\day", *days]
    assert matrix["hour\\day"] == [f"{h:02d}" for h in range(24)]
    monday = (end.astimezone(TOWN_ZONE) - timedelta(days=end.astimezone(TOWN_ZONE).weekday())).date()
    for column, day in enumerate(days):
        for hour in range(24):
            local = datetime.combine(monday + timedelta(days=column), datetime.min.time(), TOWN_ZONE)
            want = expected(local.replace(hour=hour))
            assert matrix[day][hour] == pytest.approx(want, rel=1e-9), (day, hour)
