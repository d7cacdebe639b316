"""One site's processed points from hand-made raw series, without a server."""

from __future__ import annotations

import numpy as np

from devices.registry import DeviceInfo
from processing.airquality import load_bands
from processing.engine import Options, Site, compute_site
from processing.store import DAY, HOUR, MINUTE, NS, Series

START = 20_000 * DAY  # a UTC midnight


def device(eui: str, model: str, cls: str, site: str) -> DeviceInfo:
    return DeviceInfo(eui, eui, model, cls, site, "Teststadt", None, None)


def fields_of(lines: list[str], measurement: str, ns: int) -> dict[str, float]:
    """The fields of the one line of ``measurement`` stamped ``ns`` (the engine's lines are stamped in seconds)."""
    found = [x for x in lines if x.startswith(measurement + ",") and x.endswith(f" {ns // NS}")]
    assert len(found) == 1, found
    return {k: float(v) for k, v in (pair.split("=") for pair in found[0].split(" ")[1].split(","))}


def test_lot_occupancy_and_availability() -> None:
    bays = (device("A", "nwave-nps405", "parking", "lot"), device("B", "bosch-tps110", "parking", "lot"))
    raw = {"occupied": [
        Series({"dev_eui": "A"}, np.array([START - HOUR, START + 10 * HOUR, START + 10 * HOUR + 30 * MINUTE]),
               np.array([0.0, 1.0, 0.0])),
        Series({"dev_eui": "B"}, np.array([START - HOUR, START + 12 * HOUR]), np.array([0.0, 1.0])),
    ]}
    horizon = START + 13 * HOUR
    points = compute_site(Site("Teststadt", "lot", bays), raw, start=START, end=START + DAY, horizon=horizon,
                          options=Options(load_bands()))
    hourly = points.by_policy["r1h"]
    assert fields_of(hourly, "lot_occupancy", START + 10 * HOUR) == {"coverage": 1.0, "occupancy": 0.25, "bays": 2}
    assert fields_of(hourly, "lot_occupancy", START + 12 * HOUR)["occupancy"] == 0.5
    assert not [x for x in hourly if x.startswith("lot_occupancy") and x.endswith(f" {horizon // NS}")]
    assert fields_of(points.by_policy[""], "lot_availability", horizon) == {
        "free": 1.0, "occupied": 1.0, "unknown": 0.0, "capacity": 2.0}
    day = fields_of(points.by_policy["r1d"], "lot_occupancy", START)
    assert day["coverage"] == 13 / 24  # known up to the horizon only
    # the parking state itself is not rolled up: its processed form is occupancy
    written = [x for lines in points.by_policy.values() for x in lines]
    assert not [x for x in written if x.startswith(("occupied,", "occupied_site,"))]


def test_event_driven_sensors_are_rolled_up_from_15_minutes() -> None:
    bay = device("A", "nwave-nps405", "parking", "lot")
    times = START + 7 * MINUTE * np.arange(100)
    raw = {"temperature": [Series({"dev_eui": "A"}, times, np.linspace(5.0, 9.0, times.size))]}
    points = compute_site(Site("Teststadt", "lot", (bay,)), raw, start=START, end=START + DAY, horizon=START + DAY,
                          options=Options(load_bands()))
    assert "r1m" not in points.by_policy  # a minute of an event-driven sensor holds the raw reading
    assert fields_of(points.by_policy["r15m"], "temperature", START)["count"] == 3.0
    assert fields_of(points.by_policy["r1h"], "temperature_site", START)["count"] == 9.0


def test_people_per_hour_and_site_rollups() -> None:
    counter = device("C", "milesight-vs133", "footfall", "zone")
    times = START - HOUR + 10 * MINUTE * np.arange(6 * 26)  # every 10 minutes, +10 people each time
    totals = 1000.0 + 10 * np.arange(times.size)
    silent = (times > START + 2 * HOUR) & (times < START + 4 * HOUR + 30 * MINUTE)  # 2.5 h without a reading
    times, totals = times[~silent], totals[~silent]
    raw = {"people_in_total": [Series({"dev_eui": "C", "channel": "1"}, times, totals)],
           "people_in": [Series({"dev_eui": "C", "channel": "1"}, times, np.full(times.size, 10.0))]}
    points = compute_site(Site("Teststadt", "zone", (counter,)), raw, start=START, end=START + DAY,
                          horizon=START + DAY, options=Options(load_bands()))
    hourly = points.by_policy["r1h"]
    assert fields_of(hourly, "footfall", START + 5 * HOUR) == {"count": 60.0, "complete": 1.0}
    for hour in (2, 3, 4):  # the hours the silence touches are gaps, not zeros
        assert fields_of(hourly, "footfall", START + hour * HOUR) == {"complete": 0.0}
    assert fields_of(hourly, "footfall", START + 1 * HOUR)["count"] == 60.0
    rollup = fields_of(hourly, "people_in", START + 5 * HOUR)
    assert (rollup["count"], rollup["sum"], rollup["coverage"]) == (6.0, 60.0, 1.0)
    assert fields_of(hourly, "people_in_site", START + 5 * HOUR)["sum"] == 60.0
    assert not any(x.startswith("people_in,") for x in points.by_policy.get("r1m", []))  # 10-min sensor
    assert not [x for lines in points.by_policy.values() for x in lines if x.startswith("people_in_total")]
