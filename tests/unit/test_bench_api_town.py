"""The API benchmark's questions about the simulated town: its own devices, sites and stations, whole local days
and ISO weeks.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_api import _stamp, town_dataset

from firmware_sim.town import load_town

FOOTFALL = "one week of footfall per site (hourly, with comparisons)"
ROLLUPS = "one day of 15-min rollups, one device"


def query(path: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}


def test_the_week_is_the_last_complete_iso_week_and_the_day_the_last_day() -> None:
    data = town_dataset("default", date(2026, 1, 1))  # a Thursday
    week = query(data.cases[FOOTFALL])
    assert (week["start"], week["end"]) == ("2025-12-22T00:00:00+01:00", "2025-12-29T00:00:00+01:00")
    day = query(data.cases[ROLLUPS])
    assert (day["start"], day["end"]) == ("2025-12-31T00:00:00+01:00", "2026-01-01T00:00:00+01:00")


def test_a_build_that_ends_on_a_monday_asks_the_week_just_before() -> None:
    week = query(town_dataset("default", date(2025, 6, 2)).cases[FOOTFALL])
    assert (week["start"], week["end"]) == ("2025-05-26T00:00:00+02:00", "2025-06-02T00:00:00+02:00")


def test_local_midnight_follows_summer_time_and_is_escaped_for_a_query_string() -> None:
    assert _stamp(date(2025, 7, 1)) == "2025-07-01T00:00:00%2B02:00"
    assert _stamp(date(2025, 1, 1)) == "2025-01-01T00:00:00%2B01:00"


def test_the_questions_name_the_towns_own_devices_sites_and_stations() -> None:
    town = load_town("default")
    devices = {d.dev_eui: d for d in town.devices}
    data = town_dataset("default", date(2026, 1, 1))
    assert data.municipality == town.municipality
    assert data.neighbour != town.municipality
    assert data.neighbour in {d.municipality for d in town.devices}
    bay = devices[data.cases["latest values of one device"].split("/")[3]]
    assert (bay.kind, bay.municipality) == ("parking", town.municipality)
    station = devices[query(data.cases[ROLLUPS])["dev_eui"]]
    assert station.model == "decentlab-dl-pm"
    assert station.municipality == town.municipality
    assert query(data.cases["PM10 exceedance days in a year"])["site"] == station.site
    site = urlsplit(data.cases[FOOTFALL]).path.rsplit("/", 1)[1]
    assert any(d.site == site and d.kind == "footfall" for d in town.devices)
    polled = [devices[path.split("/")[3]] for path in data.wrk_paths]
    assert len(polled) > 50
    assert {d.municipality for d in polled} == {town.municipality}
