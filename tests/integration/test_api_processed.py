"""Parking, footfall and air quality over processed data, written here in the schema processing writes (its
README, "Processed data") into a real InfluxDB: the three questions a reader key answers with one request
each, and another municipality's key gets nothing of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from api.app import create_app
from api.keys import KeyStore, Role
from api.models import AirStations, EaqiHours, Exceedances, FootfallSeries, OccupancySeries, ParkingLots
from api.queries import parse_time
from devices.registry import DeviceRegistry
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line, quote_identifier
from stadtpuls.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration

TOWN, OTHER = "Lindenbrück", "Nachbarort"
STATION = "70B3D5E75E00C001"
LOT = {"municipality": TOWN, "site": "Marktplatz", "class": "parking"}
ZONE = {"municipality": TOWN, "site": "Fussgaengerzone", "class": "footfall"}
RING = {"municipality": TOWN, "site": "Ring", "class": "air_quality", "model": "decentlab-dl-pm", "dev_eui": STATION}
HOUR = 3600 * 10**9


@dataclass
class Api:
    client: httpx.AsyncClient
    keys: dict[str, dict[str, str]]


def documented(response: httpx.Response, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON body, checked to be exactly the documented model: no field missing, none added, types kept."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert model.model_validate(body).model_dump(mode="json") == body
    return body


async def write(influx: InfluxClient, policy: str, lines: list[str]) -> None:
    params = {"db": influx.database, "precision": "ns", **({"rp": policy} if policy else {})}
    await influx._request("POST", "/write", params=params, content="\n".join(lines).encode())


def hours(first: str, count: int) -> list[int]:
    start = parse_time(first, "start")
    return [start + k * HOUR for k in range(count)]


async def processed(influx: InfluxClient) -> None:
    for policy, duration in (("r15m", "730d"), ("r1h", "INF"), ("r1d", "INF")):
        statement = (f"CREATE RETENTION POLICY {quote_identifier(policy)} ON {quote_identifier(influx.database)} "
                     f"DURATION {duration} REPLICATION 1")
        await influx._request("POST", "/query", data={"q": statement})
    # Saturday 14 June 2025, local hours 00..23: the lot fills towards the afternoon
    occupancy = [line("lot_occupancy", LOT, {"occupancy": min(1.0, h / 16), "coverage": 1.0, "bays": 40.0}, t)
                 for h, t in enumerate(hours("2025-06-14T00:00:00+02:00", 24))]
    other_lot = [line("lot_occupancy", {**LOT, "municipality": OTHER}, {"occupancy": 0.01, "coverage": 1.0,
                                                                          "bays": 5.0}, t)
                 for t in hours("2025-06-14T00:00:00+02:00", 24)]
    # this week (from Monday 9 June 2025) 10 people an hour inwards, 52 weeks earlier 8, the week before 6
    footfall = [
        line("footfall_site", {**ZONE, "direction": "in"}, {"count": float(n), "complete": 1.0, "counters": 2.0}, t)
        for first, n in (("2025-06-09T00:00:00+02:00", 10), ("2024-06-10T00:00:00+02:00", 8),
                         ("2025-06-02T00:00:00+02:00", 6))
        for t in hours(first, 7 * 24)
    ]
    footfall += [line("footfall_site", {**ZONE, "direction": "out"}, {"count": 1.0, "complete": 1.0,
                                                                       "counters": 2.0}, t)
                 for t in hours("2025-06-09T00:00:00+02:00", 7 * 24)]
    eaqi = [line("eaqi", {**RING, "bands": "2024", "pm_mean": "1h"}, {"index": 2.0 + (k % 3), "pm10": 30.0,
                                                                       "no2": 20.0}, t)
            for k, t in enumerate(hours("2025-06-14T00:00:00Z", 5))]
    first_day = datetime(2025, 1, 1, tzinfo=UTC)
    limits = [line("air_limits", RING, {"pm10_mean": 60.0 if d % 50 == 0 else 20.0,
                                        "pm10_over_limit": float(d % 50 == 0), "no2_max_hour": 90.0,
                                        "no2_valid_hours": 24.0, "no2_hours_over_limit": 0.0},
                   int((first_day + timedelta(days=d)).timestamp()) * 10**9) for d in range(330)]
    availability = [line("lot_availability", LOT, {"free": 12.0, "occupied": 26.0, "unknown": 2.0,
                                                   "capacity": 40.0}, parse_time("2025-06-14T12:00:00Z", "t"))]
    for policy, lines in (("r1h", occupancy + other_lot + footfall + eaqi), ("r1d", limits), ("", availability)):
        await write(influx, policy, lines)


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings.model_copy(update={"api": ApiSettings(public=True)}))
    async with app.router.lifespan_context(app):
        registry: DeviceRegistry = app.state.registry
        registry.upsert(STATION, model="decentlab-dl-pm", name="Ring", site="Ring", municipality=TOWN)
        await processed(app.state.influx)
        store: KeyStore = app.state.keys
        keys = {
            "reader": {"X-API-Key": store.create(Role.READER, municipality=TOWN)[1]},
            "other": {"X-API-Key": store.create(Role.READER, municipality=OTHER)[1]},
            "anonymous": {},
        }
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            yield Api(client, keys)


async def test_how_full_was_the_marktplatz_lot_last_saturday_afternoon(api: Api) -> None:
    params = {"start": "2025-06-14T12:00:00+02:00", "end": "2025-06-14T18:00:00+02:00", "every": "1h"}
    response = await api.client.get("/v1/parking/Marktplatz/occupancy", params=params, headers=api.keys["reader"])
    data = documented(response, OccupancySeries)["data"]
    assert [p["time"] for p in data][:2] == ["2025-06-14T12:00:00+02:00", "2025-06-14T13:00:00+02:00"]
    assert [p["occupancy"] for p in data] == [0.75, 0.8125, 0.875, 0.9375, 1.0, 1.0]
    assert {p["municipality"] for p in data} == {TOWN}
    assert data[0]["bays"] == 40
    afternoon = await api.client.get("/v1/parking/Marktplatz/occupancy", headers=api.keys["reader"],
                                     params={**params, "every": "1d", "start": "2025-06-14T00:00:00+02:00",
                                             "end": "2025-06-15T00:00:00+02:00"})
    day = documented(afternoon, OccupancySeries)["data"]
    assert len(day) == 1
    assert day[0]["time"] == "2025-06-14T00:00:00+02:00"
    assert day[0]["occupancy"] == pytest.approx(sum(min(1.0, h / 16) for h in range(24)) / 24)
    theirs = await api.client.get("/v1/parking/Marktplatz/occupancy", params=params, headers=api.keys["other"])
    assert {p["municipality"] for p in theirs.json()["data"]} == {OTHER}
    asked = await api.client.get("/v1/parking/Marktplatz/occupancy", params={**params, "municipality": TOWN},
                                 headers=api.keys["other"])
    assert asked.status_code == 404


async def test_parking_availability_now_is_open_data_in_fiware_terms(api: Api) -> None:
    response = await api.client.get("/v1/parking")
    body = documented(response, ParkingLots)
    assert body["licence"]
    assert body["attribution"]
    assert body["data"] == [{
        "id": f"{TOWN}/Marktplatz", "name": "Marktplatz", "municipality": TOWN, "totalSpotNumber": 40,
        "availableSpotNumber": 12, "occupiedSpotNumber": 26, "unknownSpotNumber": 2,
        "occupancy": pytest.approx(26 / 38), "dateObserved": "2025-06-14T12:00:00Z",
    }]
    assert (await api.client.get("/v1/parking", headers=api.keys["other"])).json()["data"] == []
    for hostile in ("a\nb", "nul\x00", "x' OR '1'='1\\"):
        refused = await api.client.get("/v1/parking", params={"municipality": hostile})
        assert refused.status_code == 422, (hostile, refused.text)
        assert refused.json()["invalid_params"][0]["name"] == "municipality"


async def test_people_in_the_pedestrian_zone_this_week_against_the_same_week_last_year(api: Api) -> None:
    params: dict[str, Any] = {"start": "2025-06-09T00:00:00+02:00", "end": "2025-06-16T00:00:00+02:00",
                              "every": "1w", "direction": "in", "compare": "true"}
    response = await api.client.get("/v1/footfall/Fussgaengerzone", params=params, headers=api.keys["reader"])
    body = documented(response, FootfallSeries)
    assert body["total"] == 10 * 168
    assert body["total_last_year"] == 8 * 168
    assert body["total_previous_week"] == 6 * 168
    assert [(p["time"], p["count"], p["last_year"], p["previous_week"]) for p in body["data"]] == [
        ("2025-06-09T00:00:00+02:00", 1680.0, 1344.0, 1008.0)
    ]
    days = await api.client.get("/v1/footfall/Fussgaengerzone", headers=api.keys["reader"],
                                params={**params, "every": "1d"})
    assert [p["count"] for p in documented(days, FootfallSeries)["data"]] == [240.0] * 7
    assert days.json()["data"][0]["last_year"] == 192.0  # Monday 10 June 2024
    both_directions = {k: v for k, v in params.items() if k not in ("direction", "compare")}
    both = await api.client.get("/v1/footfall/Fussgaengerzone", params={**both_directions, "every": "1d"})
    assert {p["direction"] for p in both.json()["data"]} == {"in", "out"}
    hidden = await api.client.get("/v1/footfall/Fussgaengerzone", params=params, headers=api.keys["other"])
    assert hidden.json()["data"] == []
    assert hidden.json()["total"] == 0
    bad = await api.client.get("/v1/footfall/Fussgaengerzone", params={**params, "direction": "sideways"})
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "direction"


async def test_days_with_pm10_over_the_limit_this_year_at_the_ring_road(api: Api) -> None:
    response = await api.client.get("/v1/air/exceedances", params={"year": 2025, "site": "Ring"},
                                    headers=api.keys["reader"])
    assert documented(response, Exceedances)["data"] == [{
        "dev_eui": STATION, "municipality": TOWN, "site": "Ring", "pm10_valid_days": 330,
        "pm10_days_over_limit": 7, "no2_valid_hours": 330 * 24, "no2_hours_over_limit": 0,
    }]
    theirs = await api.client.get("/v1/air/exceedances", params={"year": 2025, "site": "Ring"},
                                  headers=api.keys["other"])
    assert theirs.json()["data"] == []
    assert (await api.client.get("/v1/air/exceedances", params={"year": 2025})).status_code == 401


async def test_eaqi_now_and_per_hour(api: Api) -> None:
    now = await api.client.get("/v1/air/eaqi")
    stations = documented(now, AirStations)["data"]
    assert [(s["dev_eui"], s["index"], s["time"]) for s in stations] == [(STATION, 3, "2025-06-14T04:00:00Z")]
    per_hour = await api.client.get(f"/v1/air/stations/{STATION}/eaqi", headers=api.keys["reader"],
                                    params={"start": "2025-06-14T00:00:00Z", "end": "2025-06-15T00:00:00Z"})
    assert [h["index"] for h in documented(per_hour, EaqiHours)["data"]] == [2, 3, 4, 2, 3]
    per_day = await api.client.get(f"/v1/air/stations/{STATION}/eaqi", headers=api.keys["reader"],
                                   params={"start": "2025-06-14T00:00:00+02:00", "end": "2025-06-15T00:00:00+02:00",
                                           "every": "1d"})
    assert [(d["time"], d["index"], d["pm10"]) for d in documented(per_day, EaqiHours)["data"]] == [
        ("2025-06-14T00:00:00+02:00", 4, 30.0)
    ]
    assert (await api.client.get(f"/v1/air/stations/{STATION}/eaqi", headers=api.keys["other"],
                                 params={"start": "2025-06-14T00:00:00Z", "end": "2025-06-15T00:00:00Z"})
            ).status_code == 404
    bad = await api.client.get("/v1/air/eaqi", params={"bands": "1999"})
    assert bad.status_code == 422
    assert bad.json()["invalid_params"][0]["name"] == "bands"
