"""``/health`` tells which dependency is unreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from devtools.localstack import InfluxServer, MosquittoServer, free_port
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings

pytestmark = pytest.mark.integration


async def client_for(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        yield client


async def test_health_ok_when_both_answer(mosquitto: MosquittoServer, influxdb: InfluxServer, tmp_path: Path) -> None:
    settings = Settings(
        mqtt=MqttSettings(url=mosquitto.url), influx=InfluxSettings(url=influxdb.url), data_dir=tmp_path
    )
    async for client in client_for(settings):
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["mqtt"]["ok"]
    assert body["checks"]["influxdb"]["ok"]


async def test_health_names_what_is_down(influxdb: InfluxServer, tmp_path: Path) -> None:
    dead = free_port()
    settings = Settings(
        mqtt=MqttSettings(url=f"mqtt://127.0.0.1:{dead}"), influx=InfluxSettings(url=influxdb.url), data_dir=tmp_path
    )
    async for client in client_for(settings):
        response = await client.get("/health")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert not checks["mqtt"]["ok"]
    assert f"127.0.0.1:{dead}" in checks["mqtt"]["detail"]
    assert checks["influxdb"]["ok"]


async def test_health_says_why_the_broker_refuses(influxdb: InfluxServer, tmp_path: Path) -> None:
    locked = MosquittoServer(tmp_path / "locked", extra_config="allow_anonymous false")
    with locked:
        settings = Settings(
            mqtt=MqttSettings(url=locked.url), influx=InfluxSettings(url=influxdb.url), data_dir=tmp_path
        )
        async for client in client_for(settings):
            response = await client.get("/health")
    assert response.status_code == 503
    detail = response.json()["checks"]["mqtt"]["detail"]
    where = f"127.0.0.1:{locked.port}"
    assert detail == f"MQTT broker at {where} refused the connection: Connection Refused: not authorised"
