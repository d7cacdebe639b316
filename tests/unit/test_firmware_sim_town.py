"""Loading towns and registering their devices."""

from __future__ import annotations

from pathlib import Path

import pytest

from devices.registry import DeviceRegistry
from firmware_sim.town import TownError, load_town, register_town
from tests.unit.test_firmware_sim_support import SMALL_TOWN, small_town


def test_default_town_has_the_described_sites() -> None:
    town = load_town("default")
    parking = [s for s in town.sites if s.kind == "parking"]
    assert len(parking) == 4
    assert all(60 <= len(s.devices) <= 400 for s in parking)
    assert [s.params["profile"] for s in parking].count("on_street") == 1
    counters = [d for d in town.devices if d.kind == "footfall"]
    air = [d for d in town.devices if d.kind == "air"]
    assert len(counters) == 8
    assert len(air) == 8
    assert {d.model for d in counters} == {"milesight-vs133", "milesight-vs135", "imbuildings-people-counter"}
    assert {d.model for d in air} == {"decentlab-dl-pm", "decentlab-dl-ac", "elsys-ers-co2"}
    # three outdoor stations per quantity in the town: a drift of one shows against the other two
    assert {d.name for d in air if d.model == "decentlab-dl-ac"} == {"ring-nord", "schule-pausenhof",
                                                                      "bahnhofsplatz-gas"}
    assert {d.name for d in air if d.model == "decentlab-dl-pm"} == {"ring-ost", "stadtpark", "bahnhofsplatz-staub"}
    assert len({d.municipality for d in town.devices}) >= 2  # the town and a partner
    for dev in town.devices:
        assert len(dev.dev_eui) == 16
        assert dev.site
        assert dev.municipality
        assert 50 < dev.lat < 51
        assert 9 < dev.lon < 10
    assert len({d.dev_eui for d in town.devices}) == len(town.devices)


def test_bays_of_a_lot_are_spread_around_it(tmp_path: Path) -> None:
    lot = small_town(tmp_path).sites[0]
    positions = {(d.lat, d.lon) for d in lot.devices}
    assert len(positions) == len(lot.devices)
    assert all(abs(d.lat - lot.lat) < 0.001 and abs(d.lon - lot.lon) < 0.001 for d in lot.devices)


def test_registering_is_idempotent(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    url = f"sqlite:///{tmp_path / 'registry.sqlite3'}"
    assert register_town(town, url) == (len(town.devices), 0)
    assert register_town(town, url) == (0, len(town.devices))
    devices = DeviceRegistry(url).list()
    assert len(devices) == len(town.devices)
    pm = next(d for d in devices if d.name == "a-pm")
    assert (pm.model, pm.site, pm.municipality) == ("decentlab-dl-pm", "air", "Nachbarort")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("model: nwave-nps405", "model: nwave-nope", "sites[0] (lot).model: unknown device model 'nwave-nope'"),
        ("eui_prefix: 70B3D5E7", "eui_prefix: 70B3", "sites[0] (lot).eui_prefix: eui_prefix must be 8 hex digits"),
        ("kind: parking, model: bosch", "kind: garden, model: bosch",
         "sites[1] (street).kind: Input should be 'parking', 'footfall' or 'air'"),
        ("model: milesight-vs133", "model: nwave-nps405",
         "sites[2] (zone).devices[0] (c-vs133).model: model nwave-nps405 is a parking device, not footfall"),
        ("profile: centre", "profile: beach", "sites[0] (lot).profile: Input should be 'centre'"),
        ('from: "07:00"', 'from: "7 Uhr"', "calendar.markets[0].from: '7 Uhr' is not a time HH:MM"),
        ("lat: 50.7310", "lat: 95.0", "sites[0] (lot).lat: Input should be less than or equal to 90"),
        ("weekdays: [saturday]", "weekdays: [caturday]",
         "calendar.markets[0].weekdays[0]: 'caturday' is not a weekday"),
        ("{id: gw-a, eui", "{id: gw-a, colour: red, eui", "network.gateways[0] (gw-a).colour: Extra inputs"),
        ("  - id: zone\n", "  - id: zone\n    count: 3\n", "sites[2] (zone): count: only parking sites have these"),
        ("spread: 40, ", "", ""),  # optional: the default spread
        ("municipality: Teststadt\n", "", "municipality: Field required"),
        ("peak_per_hour: 900}", "peak_per_hour: 900, lat: x}",
         "devices[0] (c-vs133).lat: Input should be a valid number"),
    ],
)
def test_a_bad_town_is_refused_naming_file_place_and_field(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in SMALL_TOWN
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL_TOWN.replace(old, new, 1), encoding="utf-8")
    if not message:
        assert load_town(path).sites[0].devices
        return
    with pytest.raises(TownError) as caught:
        load_town(path)
    assert f"{path}: " in str(caught.value)
    assert message in str(caught.value)


def test_a_town_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("sites: [unclosed\n", encoding="utf-8")
    with pytest.raises(TownError, match="not valid YAML"):
        load_town(path)


def test_an_unknown_town_names_the_known_ones() -> None:
    with pytest.raises(TownError, match="default"):
        load_town("atlantis")


def test_devices_are_found_by_name_or_eui(tmp_path: Path) -> None:
    town = small_town(tmp_path)
    dev = town.device("c-vs133")
    assert town.device(dev.dev_eui.lower()) is dev
    with pytest.raises(TownError, match="no device named"):
        town.device("nowhere")
