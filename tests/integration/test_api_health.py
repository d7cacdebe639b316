"""``/health`` checks what the API reads (InfluxDB and its registry database), never logs in to the broker, and
tells what it found (addresses, errors) only to technician and admin keys.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.keys import KeyStore, Role
from devtools.localstack import InfluxServer, MosquittoServer, free_port
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings

pytestmark = pytest.mark.integration


async def client_for(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:
        store: KeyStore = app.state.keys
        keys = {
            "reader": store.create(Role.READER, municipality="Musterstadt")[1],
            "technician": store.create(Role.TECHNICIAN, municipality="Musterstadt")[1],
            "admin": store.create(Role.ADMIN)[1],
        }
        yield client, keys


def as_(keys: dict[str, str], who: str) -> dict[str, str]:
    return {"X-API-Key": keys[who]}


async def test_health_ok_without_the_broker_and_details_only_for_technicians(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    dead_broker = free_port()  # the API does not use the broker: its health does not depend on it
    settings = Settings(
        mqtt=MqttSettings(url=f"mqtt://stadtpuls:ingest-secret@127.0.0.1:{dead_broker}"),
        influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path,
    )
    async for client, keys in client_for(settings):
        anonymous = await client.get("/health")
        reader = await client.get("/health", headers=as_(keys, "reader"))
        technician = await client.get("/health", headers=as_(keys, "technician"))
        admin = await client.get("/health", headers=as_(keys, "admin"))
        wrong = await client.get("/health", headers={"X-API-Key": "not-a-key"})
    assert anonymous.status_code == 200
    assert anonymous.json() == {"status": "ok", "checks": {"influxdb": {"ok": True}, "registry": {"ok": True}}}
    assert "127.0.0.1" not in anonymous.text
    assert reader.json() == anonymous.json()
    for answer in (technician, admin):
        checks = answer.json()["checks"]
        assert influxdb.url in checks["influxdb"]["detail"]
        assert influx_db_name in checks["influxdb"]["detail"]
        assert checks["registry"]["detail"].startswith("the registry database answers")
    assert wrong.status_code == 401


async def test_health_says_what_is_down_to_technicians_only(tmp_path: Path, mosquitto: MosquittoServer) -> None:
    dead = free_port()
    settings = Settings(
        mqtt=MqttSettings(url=mosquitto.url), influx=InfluxSettings(url=f"http://127.0.0.1:{dead}"),
        data_dir=tmp_path,
    )
    async for client, keys in client_for(settings):
        anonymous = await client.get("/health")
        technician = await client.get("/health", headers=as_(keys, "technician"))
    assert anonymous.status_code == technician.status_code == 503
    assert anonymous.json() == {
        "status": "unavailable", "checks": {"influxdb": {"ok": False}, "registry": {"ok": True}}
    }
    assert str(dead) not in anonymous.text
    assert f"127.0.0.1:{dead}" in technician.json()["checks"]["influxdb"]["detail"]


async def test_health_checks_the_registry_database_the_api_uses(
    influxdb: InfluxServer, influx_db_name: str, tmp_path: Path
) -> None:
    settings = Settings(influx=InfluxSettings(url=influxdb.url, db=influx_db_name), data_dir=tmp_path)
    async for client, keys in client_for(settings):
        assert (await client.get("/health")).status_code == 200
        with sqlite3.connect(tmp_path / "stadtpuls.sqlite3") as db:  # the API's own database breaks
            db.execute("ALTER TABLE municipalities RENAME TO gone")
        response = await client.get("/health", headers=as_(keys, "admin"))
    assert response.status_code == 503
    registry = response.json()["checks"]["registry"]
    assert not registry["ok"]
    assert "municipalities" in registry["detail"]
    assert response.json()["checks"]["influxdb"]["ok"]
