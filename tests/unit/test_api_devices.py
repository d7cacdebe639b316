"""The device routes call the synchronous registry off the event loop, and answer 404/422 for bad DevEUIs."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings

EUI = "70B3D5E75E000001"


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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ThreadRecordingRegistry]]:
    # nothing listens on these: the tests below never reach the broker or InfluxDB
    settings = Settings(
        mqtt=MqttSettings(url="mqtt://127.0.0.1:9"), influx=InfluxSettings(url="http://127.0.0.1:9"), data_dir=tmp_path
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.registry.upsert(EUI, model="cayenne-lpp", name="Rathaus", site="Rathaus", municipality="Musterstadt")
        recording = ThreadRecordingRegistry(app.state.registry)
        app.state.registry = recording
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client, recording


async def test_listing_devices_runs_the_registry_off_the_event_loop(
    api: tuple[httpx.AsyncClient, ThreadRecordingRegistry],
) -> None:
    client, registry = api
    response = await client.get("/v1/devices", params={"municipality": "Musterstadt"})
    assert response.status_code == 200
    assert [d["dev_eui"] for d in response.json()["data"]] == [EUI]
    assert registry.threads
    assert threading.get_ident() not in registry.threads


async def test_an_unknown_device_is_404_and_looked_up_off_the_event_loop(
    api: tuple[httpx.AsyncClient, ThreadRecordingRegistry],
) -> None:
    client, registry = api
    response = await client.get("/v1/devices/0000000000000001/latest")
    assert response.status_code == 404
    assert response.json()["detail"] == "device 0000000000000001 is not registered"
    assert registry.threads
    assert threading.get_ident() not in registry.threads


async def test_a_malformed_dev_eui_is_422(api: tuple[httpx.AsyncClient, ThreadRecordingRegistry]) -> None:
    client, _ = api
    response = await client.get("/v1/devices/not-an-eui/latest")
    assert response.status_code == 422
    assert "not-an-eui" in response.json()["detail"]


async def test_a_too_long_filter_is_refused(api: tuple[httpx.AsyncClient, ThreadRecordingRegistry]) -> None:
    client, _ = api
    response = await client.get("/v1/devices", params={"site": "x" * 201})
    assert response.status_code == 422
