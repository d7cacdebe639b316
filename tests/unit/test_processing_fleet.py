"""The fleet summary's counts from the registry database and the points it makes of them (no InfluxDB)."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import pytest

from devices.alarms import AlarmStore, Finding, Kind
from devices.registry import DeviceRegistry
from processing.airquality import load_bands
from processing.engine import Options, Site
from processing.fleet import ALARM_KINDS, ANOMALY_KINDS, FleetSummary, minute_floor
from processing.service import ProcessingService
from stadtpuls.db import open_database
from stadtpuls.settings import InfluxSettings, RegistrySettings, Settings
from stadtpuls.tables import QuarantinedMessage

HOSTILE = 'Markt, "Süd" = Platz'  # a site name line protocol must escape
NOW = datetime(2025, 6, 14, 12, 30, 20, tzinfo=UTC)
NOW_NS = int(NOW.timestamp()) * 10**9


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.sqlite3'}"


def _register(url: str) -> list[Site]:
    registry = DeviceRegistry(url)
    registry.upsert("70B3D5E75E000001", model="nwave-nps405", name="Bay 1", site=HOSTILE, municipality="Musterstadt",
                    lat=50.0, lon=9.0)
    registry.upsert("70B3D5E75E000002", model="nwave-nps405", name="Bay 2", site=HOSTILE, municipality="Musterstadt",
                    lat=50.5, lon=9.5)
    registry.upsert("70B3D5E75E000003", model="decentlab-dl-pm", name="Air", site="Ring", municipality="Musterstadt")
    registry.upsert("70B3D5E75E000004", model="decentlab-dl-pm", name="Other", site="Elsewhere",
                    municipality="Musterstadt")
    devices = registry.list()
    return [Site(m, s, tuple(group)) for (m, s), group in groupby(devices, key=lambda d: (d.municipality, d.site))]


def _quarantine(url: str, rows: list[tuple[datetime, str, str | None, str | None]]) -> None:
    sessions = open_database(url)
    with sessions.begin() as session:
        for received, stage, dev_eui, municipality in rows:
            session.add(QuarantinedMessage(received_at=received, topic="t", payload=b"x", stage=stage, reason="r",
                                           dev_eui=dev_eui, municipality=municipality))


def test_open_alarms_and_quarantine_are_counted_for_the_owned_sites(url: str) -> None:
    sites = _register(url)
    owned = [s for s in sites if s.site != "Elsewhere"]
    AlarmStore(url).sync([
        Finding("70B3D5E75E000001", "Musterstadt", Kind.LOW_BATTERY, "low"),
        Finding("70B3D5E75E000004", "Musterstadt", Kind.OFFLINE, "quiet"),  # a site another worker owns
    ], judged=["70B3D5E75E000001", "70B3D5E75E000004"], now=NOW)
    _quarantine(url, [
        (NOW.replace(second=1), "codec", "70B3D5E75E000001", "Musterstadt"),
        (NOW.replace(second=50), "codec", "70B3D5E75E000002", "Musterstadt"),
        (NOW.replace(minute=29), "normalise", "70B3D5E75E000003", "Musterstadt"),
        (NOW.replace(minute=29), "device", "FFFFFFFFFFFFFFFF", None),  # unknown device
        (NOW.replace(minute=29), "codec", "70B3D5E75E000004", "Musterstadt"),  # not owned
        (NOW.replace(hour=10), "codec", "70B3D5E75E000001", "Musterstadt"),  # before the window
    ])
    summary = FleetSummary(url, owned, unattributed=True)
    assert summary.open_alarms() == Counter({("Musterstadt", HOSTILE, "low_battery"): 1})
    start = NOW_NS - 3600 * 10**9
    minute = minute_floor(NOW_NS)
    assert summary.quarantined(start, NOW_NS + 60 * 10**9) == Counter({
        (minute, "Musterstadt", HOSTILE, "codec"): 2,
        (minute - 60 * 10**9, "Musterstadt", "Ring", "normalise"): 1,
        (minute - 60 * 10**9, "", "", "device"): 1,
    })
    other = FleetSummary(url, [s for s in sites if s.site == "Elsewhere"], unattributed=False)
    assert set(other.quarantined(start, NOW_NS + 60 * 10**9)) == {(minute - 60 * 10**9, "Musterstadt", "Elsewhere",
                                                                 "codec")}
    assert summary.stages() == ["codec", "device", "normalise"]


def test_every_kind_of_every_owned_site_gets_a_point_and_lots_their_position(url: str) -> None:
    sites = _register(url)
    summary = FleetSummary(url, sites, unattributed=False)
    alarms = Counter({("Musterstadt", HOSTILE, "offline"): 2})
    points = summary.snapshot_points(NOW_NS, alarms, Counter(), summary.positions())
    lines = points.by_policy[""]
    stamp = str(minute_floor(NOW_NS))
    assert all(line.endswith(" " + stamp) for line in lines)
    escaped = r'site=Markt\,\ "Süd"\ \=\ Platz'
    assert sum(line.startswith("fleet_alarms,") for line in lines) == len(sites) * len(ALARM_KINDS)
    assert sum(line.startswith("fleet_anomalies,") for line in lines) == len(sites) * len(ANOMALY_KINDS)
    assert f"fleet_alarms,kind=offline,municipality=Musterstadt,{escaped} open=2.0 {stamp}" in lines
    assert f"fleet_alarms,kind=offline,municipality=Musterstadt,site=Ring open=0.0 {stamp}" in lines
    # the lot: the centre of its bays (the site has no position of its own); air stations are no lots
    positions = [line for line in lines if line.startswith("lot_availability,")]
    assert positions == [f"lot_availability,class=parking,municipality=Musterstadt,{escaped} lat=50.25,lon=9.25 "
                         f"{stamp}"]


def test_quarantine_points_fill_the_summarys_minute_with_zeros(url: str) -> None:
    sites = [s for s in _register(url) if s.site == HOSTILE]
    summary = FleetSummary(url, sites, unattributed=True)
    minute = minute_floor(NOW_NS)
    counts = Counter({(minute - 60 * 10**9, "", "", "device"): 3})
    lines = summary.quarantine_points(counts, now=NOW_NS, stages=["codec"]).by_policy[""]
    assert lines == [
        f"fleet_quarantine,stage=device messages=3.0 {minute - 60 * 10**9}",
        'fleet_quarantine,municipality=Musterstadt,site=Markt\\,\\ "Süd"\\ \\=\\ Platz,stage=codec '
        f"messages=0.0 {minute}",
    ]


async def test_a_registry_error_is_logged_and_the_service_goes_on(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "a-folder-not-a-database"
    folder.mkdir()
    settings = Settings(data_dir=tmp_path, registry=RegistrySettings(database_url=f"sqlite:///{folder}"),
                        influx=InfluxSettings(url="http://127.0.0.1:9"))  # never reached
    service = ProcessingService(settings, Options(load_bands()))
    with caplog.at_level(logging.WARNING, logger="processing.service"):
        await service._maybe_summarise()
    assert "fleet summary failed, retrying" in caplog.text
    assert service.fleet.due()  # tried again at the next pass
