"""The database check at start-up against an InfluxDB with authentication: an account without admin rights
writes to an existing database without trying to create it, and a missing database or wrong credentials end in
one clear error that names the setting to fix.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.localstack import InfluxServer, MosquittoServer
from ingest.service import IngestOptions, IngestService
from stadtpuls.errors import ConfigError
from stadtpuls.influx import InfluxAccessError, InfluxClient
from stadtpuls.settings import InfluxSettings, MqttSettings, Settings

pytestmark = pytest.mark.integration
ADMIN = ("admin", "admin-pw")
WRITER = ("writer", "writer-pw")


class AuthInflux(InfluxServer):
    """InfluxDB with authentication on, as in the compose stack."""

    def render_config(self) -> str:
        return super().render_config().replace("[http]\n", "[http]\n  auth-enabled = true\n")


def _statement(url: str, q: str, auth: tuple[str, str] | None = ADMIN) -> None:
    response = httpx.post(f"{url}/query", data={"q": q}, auth=auth)
    response.raise_for_status()
    assert "error" not in response.text, response.text


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An InfluxDB with an admin, and a writer that may read and write database ``town`` and nothing else."""
    with AuthInflux(tmp_path_factory.mktemp("influx-auth")) as server:
        _statement(server.url, f"CREATE USER {ADMIN[0]} WITH PASSWORD '{ADMIN[1]}' WITH ALL PRIVILEGES", None)
        _statement(server.url, "CREATE DATABASE town")
        _statement(server.url, f"CREATE USER {WRITER[0]} WITH PASSWORD '{WRITER[1]}'")
        _statement(server.url, f"GRANT ALL ON town TO {WRITER[0]}")
        yield server.url


def _client(url: str, database: str, account: tuple[str, str]) -> InfluxClient:
    return InfluxClient(url, database, username=account[0], password=account[1])


async def test_a_writer_without_admin_rights_uses_the_existing_database(secured: str) -> None:
    async with _client(secured, "town", WRITER) as influx:
        await influx.create_database()  # no CREATE DATABASE: InfluxDB would refuse it to this account
        await influx.write("check value=1 1")
        assert await influx.database_exists()


async def test_a_missing_database_the_account_may_not_create_is_one_clear_error(secured: str) -> None:
    async with _client(secured, "elsewhere", WRITER) as influx:
        with pytest.raises(InfluxAccessError) as caught:
            await influx.create_database()
    message = str(caught.value)
    assert "'elsewhere' does not exist" in message
    assert "STADTPULS_INFLUX_DB" in message
    assert 'CREATE DATABASE "elsewhere"' in message or "CREATE DATABASE elsewhere" in message
    assert isinstance(caught.value, ConfigError)


async def test_wrong_credentials_name_the_settings(secured: str) -> None:
    async with _client(secured, "town", (WRITER[0], "wrong")) as influx:
        with pytest.raises(InfluxAccessError, match="STADTPULS_INFLUX_USERNAME and STADTPULS_INFLUX_PASSWORD"):
            await influx.create_database()


async def test_an_admin_creates_a_missing_database_once(secured: str) -> None:
    name = f"new_{uuid.uuid4().hex[:8]}"
    async with _client(secured, name, ADMIN) as influx:
        assert not await influx.database_exists()
        await influx.create_database()
        await influx.create_database()  # present now: looked at, not created again
        assert await influx.database_exists()


async def test_ingest_starts_with_a_writer_account(secured: str, mosquitto: MosquittoServer, tmp_path: Path) -> None:
    settings = Settings(
        mqtt=MqttSettings(url=mosquitto.url),
        influx=InfluxSettings(url=secured, db="town", username=WRITER[0], password=WRITER[1]),
        data_dir=tmp_path,
    )
    service = IngestService(settings, IngestOptions(client_id=f"test-auth-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    service.stop()
    await asyncio.wait_for(task, timeout=30)


async def test_ingest_refuses_to_start_on_a_database_it_may_not_create(
    secured: str, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    settings = Settings(
        mqtt=MqttSettings(url=mosquitto.url),
        influx=InfluxSettings(url=secured, db="missing", username=WRITER[0], password=WRITER[1]),
        data_dir=tmp_path,
    )
    service = IngestService(settings, IngestOptions(client_id=f"test-auth-{uuid.uuid4().hex[:6]}"))
    with pytest.raises(ConfigError, match="STADTPULS_INFLUX_DB"):
        await asyncio.wait_for(service.run(), timeout=30)
