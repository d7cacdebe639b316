"""A small town and helpers shared by the simulator's unit tests."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from pathlib import Path
from typing import Any

from devices.codecs import native_codec
from firmware_sim.engine import Simulation
from firmware_sim.faults import Fault
from firmware_sim.radio import Delivery
from firmware_sim.town import RadioSettings, Town, load_town
from ingest.envelopes import parse_envelope
from stadtpuls.schema import Uplink

SMALL_TOWN = """
name: small
municipality: Teststadt
timezone: Europe/Berlin
state: HE
network:
  gateways:
    - {id: gw-a, eui: B827EBFFFE000001, lat: 50.7302, lon: 9.2418}
    - {id: gw-b, eui: B827EBFFFE000002, lat: 50.7250, lon: 9.2500}
calendar:
  markets:
    - {weekdays: [saturday], from: "07:00", to: "13:00", footfall: 1.5, parking: 1.4}
sites:
  - {id: lot, name: Lot, kind: parking, model: nwave-nps405, count: 40, lat: 50.7310, lon: 9.2400,
     spread: 40, eui_prefix: 70B3D5E7, profile: centre, dwell_minutes: 120}
  - {id: street, name: Street, kind: parking, model: bosch-tps110, count: 8, lat: 50.7299, lon: 9.2430,
     spread: 60, eui_prefix: 00A0B7C1, profile: on_street, dwell_minutes: 50}
  - id: zone
    name: Zone
    kind: footfall
    eui_prefix: 24E124FA
    devices:
      - {name: c-vs133, model: milesight-vs133, lat: 50.7308, lon: 9.2410, peak_per_hour: 900}
      - {name: c-vs135, model: milesight-vs135, lat: 50.7296, lon: 9.2441, peak_per_hour: 700}
      - {name: c-imb, model: imbuildings-people-counter, lat: 50.7315, lon: 9.2426, peak_per_hour: 300}
  - id: air
    name: Air
    kind: air
    municipality: Nachbarort
    eui_prefix: 70B3D5E9
    devices:
      - {name: a-pm, model: decentlab-dl-pm, lat: 50.7336, lon: 9.2405, traffic: 1.0}
      - {name: a-co2, model: elsys-ers-co2, lat: 50.7349, lon: 9.2338, indoor: true}
"""
SATURDAY = date(2025, 3, 8)
WEDNESDAY = date(2025, 3, 5)


def small_town(tmp_path: Path, *, perfect_radio: bool = True, **radio: Any) -> Town:
    """The small town; with a perfect radio nothing is lost, duplicated or late unless asked for."""
    path = tmp_path / "small.yaml"
    path.write_text(SMALL_TOWN, encoding="utf-8")
    town = load_town(path)
    if perfect_radio:
        settings = RadioSettings(loss=0.0, duplicate=0.0, late=0.0, shadowing_db=0.0, rejoin_per_year=0.0)
        settings = dataclasses.replace(settings, **radio)
        town = dataclasses.replace(town, network=dataclasses.replace(town.network, radio=settings))
    return town


def day_start(town: Town, day: date) -> float:
    return datetime.combine(day, datetime.min.time(), tzinfo=town.timezone).timestamp()


def simulate(town: Town, day: date, *, seed: int = 7, fmt: str = "mixed", faults: list[Fault] | None = None,
             days: int = 1) -> list[Delivery]:
    sim = Simulation(town, seed=seed, fmt=fmt, faults=faults or [], run_start=day_start(town, day))
    out: list[Delivery] = []
    for n in range(days):
        out += sim.day(date.fromordinal(day.toordinal() + n))
    return out


def uplinks(deliveries: list[Delivery]) -> list[Uplink]:
    return [parse_envelope(topic, payload, arrival_ns=ns) for ns, topic, payload in deliveries]


def decoded(town: Town, uplink: Uplink) -> dict[str, Any]:
    model = next(d for d in town.devices if d.dev_eui == uplink.dev_eui).catalog
    result = native_codec(model.codec).decode(uplink.f_port, uplink.payload)
    assert not result["errors"], (uplink.dev_eui, uplink.f_port, uplink.payload.hex(), result["errors"])
    return result["data"]
