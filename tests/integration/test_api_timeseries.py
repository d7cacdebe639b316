"""The query API against a real InfluxDB: time series by local day across DST, pages, formats, isolation of
municipalities, hostile input, rollups in the processing schema, latest values and open data.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore, Role
from api.models import TimeseriesPage
from api.queries import parse_time
from devices.registry import DeviceRegistry
from stadtpuls.influx import InfluxClient
from stadtpuls.lineprotocol import line, quote_identifier
from stadtpuls.settings import ApiSettings, Settings

pytestmark = pytest.mark.integration

A1 = "70B3D5E75E00A001"  # Musterstadt, Ring
A2 = "70B3D5E75E00A002"  # Musterstadt, a site with a hostile name
B1 = "70B3D5E75E00B001"  # Nachbarort, also a site called Ring
HOSTILE_SITE = "x' OR \"a\"=1 \\ /.*/ $ (a+)+"
START = "2025-10-25T00:00:00+02:00"
END = "2025-10-28T00:00:00+01:00"
STEP = 600  # s between readings
MODEL = "decentlab-dl-pm"


@dataclass
class Api:
    client: httpx.AsyncClient
    influx: InfluxClient
    keys: dict[str, dict[str, str]]
    settings: Settings


def readings(dev_eui: str, municipality: str, site: str, value: float) -> list[str]:
    first, last = parse_time(START, "start"), parse_time(END, "end")
    tags = {"municipality": municipality, "site": site, "class": "air_quality", "model": MODEL, "dev_eui": dev_eui}
    return [line("pm10", tags, {"value": value + (t - first) / 1e15}, t) for t in range(first, last, STEP * 10**9)]


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    settings = settings.model_copy(update={"api": ApiSettings(max_points=500)})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        registry: DeviceRegistry = app.state.registry
        registry.upsert(A1, model=MODEL, name="Ring Nord", site="Ring", municipality="Musterstadt", lat=50.1, lon=8.6)
        registry.upsert(A2, model=MODEL, name="Seltsam", site=HOSTILE_SITE, municipality="Musterstadt")
        registry.upsert(B1, model=MODEL, name="Ring", site="Ring", municipality="Nachbarort", lat=50.2, lon=8.7)
        influx: InfluxClient = app.state.influx
        lines = [*readings(A1, "Musterstadt", "Ring", 10.0), *readings(A2, "Musterstadt", HOSTILE_SITE, 5.0),
                 *readings(B1, "Nachbarort", "Ring", 99.0)]
        await influx.write("\n".join(lines))
        store: KeyStore = app.state.keys
        keys = {
            "a": {"X-API-Key": store.create(Role.READER, municipality="Musterstadt")[1]},
            "b": {"X-API-Key": store.create(Role.READER, municipality="Nachbarort")[1]},
            "admin": {"X-API-Key": store.create(Role.ADMIN)[1]},
        }
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            yield Api(client, influx, keys, settings)


async def series(api: Api, who: str, **params: Any) -> httpx.Response:
    query = {"quantity": "pm10", "start": START, "end": END, **params}
    return await api.client.get("/v1/timeseries", params=query, headers=api.keys[who])


async def test_a_day_is_a_local_day_across_the_dst_change(api: Api) -> None:
    response = await series(api, "a", dev_eui=A1, every="1d", agg="count")
    assert response.status_code == 200, response.text
    body = response.json()
    assert TimeseriesPage.model_validate(body).model_dump(mode="json") == body  # exactly the documented page
    assert [(p["time"], p["value"]) for p in body["data"]] == [
        ("2025-10-25T00:00:00+02:00", 144),
        ("2025-10-26T00:00:00+02:00", 150),  # 25 hours
        ("2025-10-27T00:00:00+01:00", 144),
    ]
    assert body["tz"] == "Europe/Berlin"
    assert body["source"] == "raw"
    assert body["unit"] == "µg/m³"
    utc = (await series(api, "a", dev_eui=A1, every="1d", agg="count", tz="UTC")).json()
    assert utc["data"][0]["time"] == "2025-10-24T00:00:00Z"


async def test_a_site_of_the_same_name_in_another_municipality_stays_apart(api: Api) -> None:
    mine = (await series(api, "a", site="Ring", every="1d", agg="max")).json()["data"]
    theirs = (await series(api, "b", site="Ring", every="1d", agg="min")).json()["data"]
    assert mine
    assert all(p["value"] < 20 for p in mine)
    assert theirs
    assert all(p["value"] >= 99 for p in theirs)
    raw = (await series(api, "a", site="Ring", limit=500)).json()["data"]
    assert {p["dev_eui"] for p in raw} == {A1}
    refused = await series(api, "a", site="Ring", municipality="Nachbarort", every="1h")
    assert refused.status_code == 404
    assert (await series(api, "a", dev_eui=B1)).status_code == 404
    both = (await series(api, "admin", site="Ring", limit=500)).json()["data"]
    assert {p["dev_eui"] for p in both} == {A1, B1}


async def test_pages_follow_each_other_without_gaps_or_repeats(api: Api) -> None:
    whole = (await series(api, "a", dev_eui=A1, every="1h", agg="mean", limit=500)).json()
    assert whole["next"] is None
    assert whole["count"] == 73
    collected: list[dict[str, Any]] = []
    response = await series(api, "a", dev_eui=A1, every="1h", agg="mean", limit=20)
    pages = 0
    while True:
        body = response.json()
        pages += 1
        assert body["count"] <= 20
        collected.extend(body["data"])
        if body["next"] is None:
            break
        response = await api.client.get(body["next"], headers=api.keys["a"])
    assert pages == 4
    assert collected == whole["data"]
    raw_pages, raw_points = 0, 0
    response = await series(api, "a", dev_eui=A1, limit=500)
    while True:
        raw_pages += 1
        body = response.json()
        raw_points += body["count"]
        if body["next"] is None:
            break
        response = await api.client.get(body["next"], headers=api.keys["a"])
    assert raw_points == 438
    assert raw_pages == 1 + 438 // 500
    too_many = await series(api, "a", dev_eui=A1, limit=501)
    assert too_many.status_code == 422
    assert "follow `next`" in too_many.json()["detail"]


async def test_csv_and_ndjson_by_accept_or_format(api: Api) -> None:
    by_format = await series(api, "a", dev_eui=A1, every="1d", agg="count", format="csv")
    assert by_format.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(by_format.text)))
    assert [r["value"] for r in rows] == ["144", "150", "144"]
    assert rows[1]["dev_eui"] == A1
    by_accept = await api.client.get(
        "/v1/timeseries", params={"quantity": "pm10", "start": START, "end": END, "dev_eui": A1, "limit": 100},
        headers={**api.keys["a"], "Accept": "application/x-ndjson"},
    )
    assert by_accept.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(x) for x in by_accept.text.splitlines()]
    assert len(lines) == 100
    assert lines[0]["time"] == "2025-10-25T00:00:00+02:00"
    assert 'rel="next"' in by_accept.headers["link"]
    assert "cursor=" in by_accept.headers["link"]


HOSTILE_PARAMS = [
    ("quantity", "pm10' OR '1'='1"),
    ("quantity", 'pm10"; DROP DATABASE x'),
    ("start", "2025-10-25T00:00:00"),
    ("start", "1e308"),
    ("start", "2025-10-25T00:00:00+02:00' OR 1=1"),
    ("end", "99999999999999999999"),
    ("every", "1h) fill(0); DROP"),
    ("every", "99999999999999999999h"),
    ("every", "0s"),
    ("every", "-1h"),
    ("agg", "mean(\"value\")) FROM x;"),
    ("tz", "Europe/Berlin') ; DROP"),
    ("tz", "../../etc/localtime"),
    ("limit", "99999999999999999999999"),
    ("limit", "-1"),
    ("cursor", "'; DROP DATABASE stadtpuls"),
    ("dev_eui", "70B3D5E75E00A001' OR 'x'='x"),
    ("site", "Ring\n"),
    ("site", "Ring\\"),
    ("format", "xml"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE_PARAMS)
async def test_hostile_parameters_get_a_4xx_naming_them(api: Api, name: str, value: str) -> None:
    params = {"site": "Ring", "every": "1h", name: value}
    response = await series(api, "a", **params)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert name in [p["name"] for p in body["invalid_params"]], body


async def test_a_hostile_site_name_finds_exactly_its_site(api: Api) -> None:
    response = await series(api, "a", site=HOSTILE_SITE, every="1d", agg="max")
    assert response.status_code == 200, response.text
    assert [round(p["value"]) for p in response.json()["data"]] == [5, 5, 5]
    # the database survived every hostile request above, and still holds its measurements
    assert await api.influx.query(f"SHOW MEASUREMENTS ON {quote_identifier(api.influx.database)}")


async def test_rollups_are_read_in_the_processing_schema(api: Api) -> None:
    api.settings.api.rollups = True
    fallback = (await series(api, "a", dev_eui=A1, every="15m", agg="mean", limit=5)).json()
    assert fallback["source"] == "raw"
    assert fallback["count"] == 5
    influx = api.influx
    for policy, duration in (("r15m", "730d"), ("r1h", "INF")):
        statement = (f"CREATE RETENTION POLICY {quote_identifier(policy)} ON {quote_identifier(influx.database)} "
                     f"DURATION {duration} REPLICATION 1")
        await influx._request("POST", "/query", data={"q": statement})
    tags = {"municipality": "Musterstadt", "site": "Ring", "class": "air_quality", "model": MODEL, "dev_eui": A1}
    first = parse_time("2025-10-25T10:00:00Z", "start")
    fifteen = [line("pm10", tags, {"count": 1.0, "mean": 40.0 + k, "min": 1.0, "max": 80.0, "last": 2.0,
                                   "coverage": 1.0}, first + k * 900 * 10**9) for k in range(4)]
    hours = [line("pm10", tags, {"count": 6.0, "mean": 30.0, "min": 1.0, "max": 70.0 + k, "last": 2.0,
                                 "coverage": 1.0}, first + k * 3600 * 10**9) for k in range(3)]
    for policy, lines in (("r15m", fifteen), ("r1h", hours)):
        await influx._request("POST", "/write", params={"db": influx.database, "rp": policy, "precision": "ns"},
                              content="\n".join(lines).encode())
    quarter = (await series(api, "a", dev_eui=A1, every="15m", agg="mean")).json()
    assert quarter["source"] == "r15m.pm10"
    assert [p["value"] for p in quarter["data"]] == [40.0, 41.0, 42.0, 43.0]
    assert quarter["data"][0]["time"] == "2025-10-25T12:00:00+02:00"
    daily = (await series(api, "a", dev_eui=A1, every="1d", agg="max")).json()
    assert daily["source"] == "r1h.pm10"
    assert [p["value"] for p in daily["data"]] == [72.0]
    counted = (await series(api, "a", dev_eui=A1, every="1d", agg="count")).json()
    assert [p["value"] for p in counted["data"]] == [18.0]


async def test_latest_values_and_health_of_a_visible_device(api: Api) -> None:
    latest = await api.client.get(f"/v1/devices/{A1}/latest", headers=api.keys["a"])
    assert latest.status_code == 200
    values = latest.json()["values"]
    assert [v["quantity"] for v in values] == ["pm10"]
    assert values[0]["time"].endswith("Z")
    assert (await api.client.get(f"/v1/devices/{A1}/latest", headers=api.keys["b"])).status_code == 404
    detail = (await api.client.get(f"/v1/devices/{A1}", headers=api.keys["a"])).json()
    assert detail["health"] == {"status": "never_seen", "last_seen": None}  # no uplink records were written


async def test_open_data_devices_carry_their_latest_public_values(api: Api) -> None:
    response = await api.client.get("/v1/open/devices", headers=api.keys["b"])
    assert response.status_code == 200
    body = response.json()
    assert [f["id"] for f in body["features"]] == [B1]
    feature = body["features"][0]
    assert feature["geometry"]["coordinates"] == [8.7, 50.2]
    assert [v["quantity"] for v in feature["properties"]["latest"]] == ["pm10"]
    assert feature["properties"]["latest"][0]["value"] >= 99
    assert body["licence"]
    assert body["attribution"]
