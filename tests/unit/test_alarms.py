"""Device health from query rows, and alarms: judged without I/O, raised once, cleared when resolved."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from devices.alarms import AlarmRules, AlarmStore, Kind, evaluate, expected_interval
from devices.catalog import get_model
from devices.health import DeviceHealth, frame_gaps, summarise
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry
from devices.startup import startup_line, startup_ports
from tests.unit.test_registry import postgres_url  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def device(eui: str = "0101010101010101", model: str = "cayenne-lpp", status: str = "active",
           changed: datetime | None = None) -> DeviceInfo:
    return DeviceInfo(eui, "n", model, "generic", "S", "Musterstadt", None, None, status=status,
                      installed_on=date(2026, 11, 1), status_changed_at=changed or NOW - timedelta(days=3))


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000


def test_frame_gaps_count_lost_frames_and_resets() -> None:
    assert frame_gaps([]) == (0, 0)
    assert frame_gaps([5, 6, 7]) == (0, 0)
    assert frame_gaps([5, 7, 10]) == (3, 0)
    assert frame_gaps([100, 101, 0, 2, 3]) == (1, 1)  # a re-join starts a new run
    assert frame_gaps([4, 4]) == (0, 1)


def test_startup_ports_come_from_the_catalog() -> None:
    assert startup_ports(get_model("nwave-nps405")) == {3}
    assert startup_ports(get_model("cayenne-lpp")) == frozenset()
    assert expected_interval("nwave-nps405") == timedelta(days=1)
    assert expected_interval("cayenne-lpp") == timedelta(minutes=15)


def test_startup_frames_become_one_point_with_firmware_and_reset_cause() -> None:
    nwave, bosch = get_model("nwave-nps405"), get_model("bosch-tps110")
    line = startup_line(nwave, 3, {"firmware_version": "2.4.9", "reset_cause": "power_on"}, ",dev_eui=X", 7)
    assert line == 'device_startup,dev_eui=X firmware="2.4.9",reset_cause="power_on" 7'
    camel = startup_line(bosch, 3, {"firmwareVersion": '0.29"\\x', "resetCause": "watchdog\n"}, ",dev_eui=Y", 8)
    assert camel == 'device_startup,dev_eui=Y firmware="0.29\\"\\\\x",reset_cause="watchdog" 8'
    assert startup_line(nwave, 2, {"firmware_version": "2.4.9"}, ",dev_eui=X", 7) is None  # not a startup port
    assert startup_line(nwave, 3, {"occupied": True}, ",dev_eui=X", 7) is None
    assert startup_line(get_model("cayenne-lpp"), 3, {"firmware": "1"}, ",dev_eui=X", 7) is None


def test_summarise_rows() -> None:
    columns = ("time", "f_cnt", "f_port", "gateways", "rssi", "snr")
    window = [
        dict(zip(columns, (ns(NOW - timedelta(hours=3)), 10.0, 3.0, 1.0, -110.0, 1.0), strict=True)),
        dict(zip(columns, (ns(NOW - timedelta(hours=2)), 13.0, 2.0, 3.0, -100.0, 5.0), strict=True)),
        dict(zip(columns, (ns(NOW - timedelta(hours=1)), 14.0, 3.0, 2.0, -90.0, 9.0), strict=True)),
    ]
    battery = ("battery_voltage", {"time": ns(NOW - timedelta(hours=2)), "value": 3.1})
    startup = {"time": window[-1]["time"], "firmware": "2.4.9", "reset_cause": "watchdog"}
    health = summarise(device(model="nwave-nps405"), last=window[-1], window=window, battery=battery, startup=startup)
    assert (health.firmware, health.reset_cause) == ("2.4.9", "watchdog")
    assert (health.last_uplink, health.rssi, health.snr, health.gateways) == (NOW - timedelta(hours=1), -90.0, 9.0, 2)
    assert (health.uplinks_24h, health.lost_24h, health.loss_24h) == (3, 2, 0.4)
    assert (health.median_rssi_24h, health.max_gateways_24h, health.restarts_24h) == (-100.0, 3, 2)
    assert (health.battery, health.battery_unit, health.last_startup) == (3.1, "V", NOW - timedelta(hours=1))
    never = summarise(device(), last=None, window=[], battery=None)
    assert never.last_uplink is None
    assert never.loss_24h is None


def kinds(findings: list) -> set[tuple[str, Kind]]:  # type: ignore[type-arg]
    return {(f.dev_eui, f.kind) for f in findings}


def test_evaluate_judges_each_condition() -> None:
    fine = DeviceHealth("0000000000000001", last_uplink=NOW - timedelta(minutes=10), battery=3.5, battery_unit="V",
                        uplinks_24h=90, median_rssi_24h=-100, median_snr_24h=5)
    quiet = DeviceHealth("0000000000000002", last_uplink=NOW - timedelta(minutes=46))
    weak = DeviceHealth("0000000000000003", last_uplink=NOW, uplinks_24h=5, median_rssi_24h=-124, median_snr_24h=-16)
    low = DeviceHealth("0000000000000004", last_uplink=NOW, battery=15, battery_unit="%", restarts_24h=4)
    volts = DeviceHealth("0000000000000005", last_uplink=NOW, battery=3.1, battery_unit="V")
    devices = [device("0000000000000001"), device("0000000000000002"), device("0000000000000003"),
               device("0000000000000004"), device("0000000000000005", model="nwave-nps405"),
               device("0000000000000006", status="installed", changed=NOW - timedelta(hours=2)),
               device("0000000000000007", status="installed", changed=NOW - timedelta(minutes=5)),
               device("0000000000000008", status="maintenance"), device("0000000000000009", status="planned")]
    health = {h.dev_eui: h for h in (fine, quiet, weak, low, volts)}
    found = evaluate(devices, health, now=NOW, quarantined={"0000000000000001": 12, "0000000000000003": 2})
    assert kinds(found) == {
        ("0000000000000001", Kind.QUARANTINE),
        ("0000000000000002", Kind.OFFLINE),
        ("0000000000000003", Kind.WEAK_SIGNAL),
        ("0000000000000004", Kind.LOW_BATTERY),
        ("0000000000000004", Kind.RESETS),
        ("0000000000000005", Kind.LOW_BATTERY),
        ("0000000000000006", Kind.NEVER_SEEN),
    }
    messages = {f.kind: f.message for f in found}
    assert messages[Kind.OFFLINE] == "last uplink 46 min ago; expected every 15 min"
    assert "below 3.20 V" in next(f.message for f in found if f.dev_eui == "0000000000000005")
    relaxed = evaluate(devices, health, now=NOW, rules=AlarmRules(offline_factor=4.0))
    assert ("0000000000000002", Kind.OFFLINE) not in kinds(relaxed)


def test_an_uplink_from_before_installation_does_not_count() -> None:
    moved = device(status="installed", changed=NOW - timedelta(hours=2))
    bench = DeviceHealth(moved.dev_eui, last_uplink=NOW - timedelta(days=2))
    assert kinds(evaluate([moved], {moved.dev_eui: bench}, now=NOW)) == {(moved.dev_eui, Kind.NEVER_SEEN)}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[DeviceRegistry, AlarmStore]:
    """Alarms on SQLite, and on PostgreSQL (a database of the test's own, see test_registry)."""
    url = f"sqlite:///{tmp_path / 'alarms.sqlite3'}"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    registry = DeviceRegistry(url)
    for eui, town in (("0000000000000001", "Musterstadt"), ("0000000000000002", "Nachbarort")):
        registry.upsert(eui, model="cayenne-lpp", name=f"d{eui[-1]}", site="S", municipality=town)
    return registry, AlarmStore(url)


def test_alarms_are_raised_once_and_cleared_when_resolved(store: tuple[DeviceRegistry, AlarmStore]) -> None:
    registry, alarms = store
    judged = [d.dev_eui for d in registry.list()]
    offline = evaluate([device("0000000000000001")], {}, now=NOW)
    assert kinds(offline) == {("0000000000000001", Kind.NEVER_SEEN)}
    first = alarms.sync(offline, judged=judged, now=NOW)
    again = alarms.sync(offline, judged=judged, now=NOW + timedelta(minutes=1))
    assert (len(first.raised), len(again.raised), again.still_open) == (1, 0, 1)
    listed = alarms.list(municipality="Musterstadt")
    assert [(a.kind, a.severity, a.device_name, a.site) for a in listed] == [("never_seen", "critical", "d1", "S")]
    assert listed[0].raised_at == NOW
    assert listed[0].updated_at == NOW + timedelta(minutes=1)
    assert alarms.list(municipality="Nachbarort") == []
    # the other municipality's check does not touch this one's alarms
    assert alarms.sync([], judged=["0000000000000002"], now=NOW).cleared == 0
    resolved = alarms.sync([], judged=judged, now=NOW + timedelta(minutes=2))
    assert (resolved.cleared, alarms.list()) == (1, [])
    history = alarms.list(include_cleared=True)
    assert history[0].cleared_at == NOW + timedelta(minutes=2)
    # the same condition coming back is a new alarm
    alarms.sync(offline, judged=judged, now=NOW + timedelta(minutes=3))
    assert len(alarms.list(include_cleared=True)) == 2
