"""Every route needs a key except /health and the enabled open-data routes; a key sees its municipality only;
roles, rate limits, CORS and problem+json answers. No servers: nothing here reaches InfluxDB.
"""

from __future__ import annotations

import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore, Role
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry
from stadtpuls.settings import ApiSettings, InfluxSettings, MqttSettings, Settings

EUI_A = "70B3D5E75E000001"
EUI_B = "70B3D5E75E000002"
PUBLIC = {"/health", "/v1/open/sites", "/v1/open/devices", "/v1/parking", "/v1/footfall/{site}", "/v1/air/eaqi",
          "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


class ThreadRecordingRegistry:
    """Wraps the real registry and notes which thread each call runs on."""

    def __init__(self, registry: DeviceRegistry) -> None:
        self._registry = registry
        self.threads: list[int] = []

    def get(self, dev_eui: str) -> DeviceInfo | None:
        self.threads.append(threading.get_ident())
        return self._registry.get(dev_eui)

    def list(self, **filters: Any) -> list[DeviceInfo]:
        self.threads.append(threading.get_ident())
        return self._registry.list(**filters)


@dataclass
class Api:
    client: httpx.AsyncClient
    registry: ThreadRecordingRegistry
    keys: dict[str, str]  # reader_a, technician_a, reader_b, admin → secret
    store: KeyStore
    app: Any


def make_settings(tmp_path: Path, **api: Any) -> Settings:
    # nothing listens on these: the tests below never reach the broker or InfluxDB
    return Settings(
        mqtt=MqttSettings(url="mqtt://127.0.0.1:9"), influx=InfluxSettings(url="http://127.0.0.1:9"),
        data_dir=tmp_path, api=ApiSettings(**api),
    )


async def start(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        registry: DeviceRegistry = app.state.registry
        registry.upsert(EUI_A, model="cayenne-lpp", name="Rathaus", site="Rathaus", municipality="Musterstadt",
                        lat=50.1, lon=8.6)
        registry.upsert(EUI_B, model="cayenne-lpp", name="Bahnhof", site="Bahnhof", municipality="Nachbarort")
        store: KeyStore = app.state.keys
        keys = {
            "reader_a": store.create(Role.READER, municipality="Musterstadt")[1],
            "technician_a": store.create(Role.TECHNICIAN, municipality="Musterstadt")[1],
            "reader_b": store.create(Role.READER, municipality="Nachbarort")[1],
            "admin": store.create(Role.ADMIN)[1],
        }
        recording = ThreadRecordingRegistry(registry)
        app.state.registry = recording
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(client, recording, keys, store, app)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for running in start(make_settings(tmp_path)):
        yield running


def key(api: Api, who: str) -> dict[str, str]:
    return {"X-API-Key": api.keys[who]}


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{key_id}" else EUI_A, path)


async def test_every_route_but_health_and_open_data_needs_a_key(api: Api) -> None:
    paths = (await api.client.get("/openapi.json")).json()["paths"]
    assert len(paths) >= 10
    for path, operations in paths.items():
        if path in PUBLIC:
            continue
        for method in operations:
            response = await api.client.request(method, concrete(path))
            assert response.status_code == 401, (method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["invalid_params"] == [{"name": "X-API-Key", "reason": response.json()["detail"]}]


async def test_open_data_needs_a_key_unless_switched_on(api: Api) -> None:
    response = await api.client.get("/v1/open/sites")
    assert response.status_code == 401


async def test_open_data_is_served_without_a_key_when_switched_on(tmp_path: Path) -> None:
    async for api in start(make_settings(tmp_path, public=True, licence="dl-de/by-2-0", attribution="Stadt X")):
        response = await api.client.get("/v1/open/sites")
        assert response.status_code == 200
        body = response.json()
        assert body["licence"] == "dl-de/by-2-0"
        assert body["attribution"] == "Stadt X"
        assert {f["id"] for f in body["features"]} == {"Musterstadt/Rathaus", "Nachbarort/Bahnhof"}
        rathaus = next(f for f in body["features"] if f["id"] == "Musterstadt/Rathaus")
        assert rathaus["geometry"] == {"type": "Point", "coordinates": [8.6, 50.1]}
        # a key, even on a public route, still counts: a bad one is refused, a good one is scoped
        assert (await api.client.get("/v1/open/sites", headers={"X-API-Key": "sp_wrong"})).status_code == 401
        scoped = await api.client.get("/v1/open/sites", headers=key(api, "reader_b"))
        assert [f["id"] for f in scoped.json()["features"]] == ["Nachbarort/Bahnhof"]
        # everything else still needs a key
        assert (await api.client.get("/v1/devices")).status_code == 401


async def test_a_revoked_or_unknown_key_is_refused(api: Api) -> None:
    assert (await api.client.get("/v1/devices", headers={"X-API-Key": "sp_nope"})).status_code == 401
    record = api.store.lookup(api.keys["reader_a"])
    assert record is not None
    assert (await api.client.get("/v1/devices", headers=key(api, "reader_a"))).status_code == 200
    response = await api.client.delete(f"/v1/keys/{record.id}", headers=key(api, "admin"))
    assert response.status_code == 200
    assert response.json()["revoked_at"]
    assert (await api.client.get("/v1/devices", headers=key(api, "reader_a"))).status_code == 401


async def test_a_key_lists_only_its_municipality(api: Api) -> None:
    response = await api.client.get("/v1/devices", headers=key(api, "reader_a"))
    assert [d["dev_eui"] for d in response.json()["data"]] == [EUI_A]
    other = await api.client.get("/v1/devices", params={"municipality": "Nachbarort"}, headers=key(api, "reader_a"))
    assert other.json() == {"data": [], "count": 0}
    admin = await api.client.get("/v1/devices", headers=key(api, "admin"))
    assert admin.json()["count"] == 2
    assert api.registry.threads
    assert threading.get_ident() not in api.registry.threads


async def test_another_municipalitys_things_are_not_found_exactly_like_missing_ones(api: Api) -> None:
    headers = key(api, "reader_a")
    foreign = await api.client.get(f"/v1/devices/{EUI_B}", headers=headers)
    missing = await api.client.get("/v1/devices/0000000000000009", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["title"] == missing.json()["title"]
    assert (await api.client.get(f"/v1/devices/{EUI_B}/latest", headers=headers)).status_code == 404
    assert (await api.client.get("/v1/municipalities/Nachbarort", headers=headers)).status_code == 404
    assert (await api.client.get("/v1/municipalities/Nirgendwo", headers=headers)).status_code == 404
    names = await api.client.get("/v1/municipalities", headers=headers)
    assert names.json() == {"data": [{"name": "Musterstadt", "sites": 1, "devices": 1}], "count": 1}
    sites = await api.client.get("/v1/sites", params={"municipality": "Nachbarort"}, headers=headers)
    assert sites.json()["count"] == 0
    series = await api.client.get(
        "/v1/timeseries",
        params={"dev_eui": EUI_B, "quantity": "temperature", "start": "2025-01-01T00:00:00Z",
                "end": "2025-01-02T00:00:00Z"},
        headers=headers,
    )
    assert series.status_code == 404


async def test_roles(api: Api) -> None:
    assert (await api.client.get("/v1/keys", headers=key(api, "reader_a"))).status_code == 403
    assert (await api.client.get("/v1/keys", headers=key(api, "technician_a"))).status_code == 403
    listed = await api.client.get("/v1/keys", headers=key(api, "admin"))
    assert listed.status_code == 200
    assert listed.json()["count"] == 4
    assert all("hash" not in k and not k["prefix"].endswith("=") for k in listed.json()["data"])
    me = await api.client.get("/v1/whoami", headers=key(api, "technician_a"))
    assert me.json()["role"] == "technician"
    assert me.json()["municipality"] == "Musterstadt"


async def test_a_malformed_dev_eui_names_the_parameter(api: Api) -> None:
    response = await api.client.get("/v1/devices/not-an-eui/latest", headers=key(api, "admin"))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["invalid_params"][0]["name"] == "dev_eui"


async def test_a_too_long_filter_is_refused_naming_it(api: Api) -> None:
    response = await api.client.get("/v1/devices", params={"site": "x" * 201}, headers=key(api, "admin"))
    assert response.status_code == 422
    assert response.json()["invalid_params"][0]["name"] == "site"


async def test_over_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    async for api in start(make_settings(tmp_path, rate_limit=60, rate_burst=3)):
        codes = [(await api.client.get("/v1/whoami", headers=key(api, "reader_a"))).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = await api.client.get("/v1/whoami", headers=key(api, "reader_a"))
        assert refused.headers["Retry-After"] == "1"
        assert refused.headers["content-type"] == "application/problem+json"
        # another key is not slowed down by the first
        assert (await api.client.get("/v1/whoami", headers=key(api, "reader_b"))).status_code == 200


async def test_cors_is_off_unless_configured(api: Api, tmp_path: Path) -> None:
    headers = {"Origin": "https://karte.example", "Access-Control-Request-Method": "GET"}
    response = await api.client.options("/v1/devices", headers=headers)
    assert "access-control-allow-origin" not in response.headers
    async for other in start(make_settings(tmp_path / "cors", cors_origins="https://karte.example")):
        allowed = await other.client.options("/v1/devices", headers=headers)
        assert allowed.headers["access-control-allow-origin"] == "https://karte.example"
        refused = await other.client.options("/v1/devices", headers={**headers, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in refused.headers


async def test_the_openapi_document_describes_every_route_and_field(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            assert operation.get("description") or operation.get("summary"), (method, path)
            for parameter in operation.get("parameters", []):
                assert parameter.get("description"), (path, parameter["name"])
    for name, component in schema["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        for field, spec in component.get("properties", {}).items():
            assert spec.get("description"), (name, field)
