"""The database check at start-up against an InfluxDB with authentication: an account without admin rights
writes to an existing database without trying to create it, and a missing database or wrong credentials end in
one clear error that names the setting to fix.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from devices.health import read_health
from devices.records import DeviceInfo
from devtools.localstack import InfluxServer, MosquittoServer
from ingest.service import IngestOptions, IngestService
from stadtpuls.cli import main
from stadtpuls.errors import ConfigError
from stadtpuls.influx import InfluxAccessError, InfluxClient, InfluxRefused, InfluxRejected
from stadtpuls.schema import UPLINK_MEASUREMENT
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


async def _ingest_starts(url: str, account: tuple[str, str], mqtt_url: str, data_dir: Path) -> None:
    """Ingest with ``account`` on database ``town`` gets ready (broker and InfluxDB checked), then stops."""
    settings = Settings(
        mqtt=MqttSettings(url=mqtt_url),
        influx=InfluxSettings(url=url, db="town", username=account[0], password=account[1]),
        data_dir=data_dir,
    )
    service = IngestService(settings, IngestOptions(client_id=f"test-auth-{uuid.uuid4().hex[:6]}"))
    ready = asyncio.Event()
    task = asyncio.create_task(service.run(ready=ready))
    await asyncio.wait_for(ready.wait(), timeout=30)
    service.stop()
    await asyncio.wait_for(task, timeout=30)


async def test_ingest_starts_with_a_writer_account(secured: str, mosquitto: MosquittoServer, tmp_path: Path) -> None:
    await _ingest_starts(secured, WRITER, mosquitto.url, tmp_path)


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


def _grant(url: str, user: str, privilege: str, password: str, account: tuple[str, str] = ADMIN) -> Result:
    """``stadtpuls influx grant`` as the compose stack runs it, with ``account`` in the settings."""
    env = {"STADTPULS_INFLUX_URL": url, "STADTPULS_INFLUX_DB": "town", "STADTPULS_INFLUX_USERNAME": account[0],
           "STADTPULS_INFLUX_PASSWORD": account[1], "ACCOUNT_PASSWORD": password}
    return CliRunner().invoke(main, ["influx", "grant", user, privilege, "--password-env", "ACCOUNT_PASSWORD"], env=env)


async def test_the_services_accounts_get_their_rights_and_no_more(secured: str) -> None:
    ingest_password, api_password = "in'gest\\pw\"1", "api-pw"  # quotes and a backslash reach InfluxQL escaped
    first = await asyncio.to_thread(_grant, secured, "ingest", "write", ingest_password)
    assert first.exit_code == 0, first.output
    assert "'ingest' created: WRITE on database 'town' only" in first.output
    assert ingest_password not in first.output
    assert (await asyncio.to_thread(_grant, secured, "api", "read", api_password)).exit_code == 0
    async with _client(secured, "town", ("ingest", ingest_password)) as ingest:
        await ingest.create_database()  # what ingest does at its start: the database is there
        await ingest.write("accounts value=1 1")
        with pytest.raises(InfluxRejected) as refused:
            await ingest.query('SELECT * FROM "accounts"')
        assert refused.value.status == 403
    async with _client(secured, "town", ("api", api_password)) as api:
        [series] = await api.query('SELECT "value" FROM "accounts"')
        assert series["values"] == [[1, 1.0]]
        with pytest.raises(InfluxRefused) as written:
            await api.write("accounts value=2 2")
        assert written.value.status == 403


async def test_granting_again_changes_the_password_and_narrows_the_rights(secured: str) -> None:
    assert (await asyncio.to_thread(_grant, secured, "rotating", "all", "old-pw")).exit_code == 0
    again = await asyncio.to_thread(_grant, secured, "rotating", "read", "new-pw")
    assert again.exit_code == 0, again.output
    assert "'rotating' updated: READ on database 'town' only" in again.output
    async with _client(secured, "town", ("rotating", "old-pw")) as old:
        with pytest.raises(InfluxRejected) as refused:
            await old.query("SHOW MEASUREMENTS")
        assert refused.value.status == 401
    async with _client(secured, "town", ("rotating", "new-pw")) as new:
        await new.query("SHOW MEASUREMENTS")
        with pytest.raises(InfluxRefused):
            await new.write("rotating value=1 1")  # ALL before, READ now


def test_accounts_are_managed_only_by_an_admin_and_never_made_of_one(secured: str) -> None:
    refused = _grant(secured, "someone", "read", "pw", account=WRITER)
    assert refused.exit_code != 0
    assert "STADTPULS_INFLUX_USERNAME and STADTPULS_INFLUX_PASSWORD must name an admin" in refused.output
    admin = _grant(secured, ADMIN[0], "read", "pw")
    assert admin.exit_code != 0
    assert "is an admin" in admin.output
    missing = CliRunner().invoke(main, ["influx", "grant", "x", "read", "--password-env", "NOT_SET_ANYWHERE"],
                                 env={"STADTPULS_INFLUX_URL": secured, "NOT_SET_ANYWHERE": ""})
    assert missing.exit_code != 0
    assert "NOT_SET_ANYWHERE is empty or not set" in missing.output


async def test_ingest_starts_with_its_write_only_account(
    secured: str, mosquitto: MosquittoServer, tmp_path: Path
) -> None:
    assert (await asyncio.to_thread(_grant, secured, "ingest-only", "write", "ingest-only-pw")).exit_code == 0
    await _ingest_starts(secured, ("ingest-only", "ingest-only-pw"), mosquitto.url, tmp_path)


async def test_the_alarms_check_reads_the_devices_health_with_its_read_only_account(secured: str) -> None:
    assert (await asyncio.to_thread(_grant, secured, "alarms-only", "read", "alarms-only-pw")).exit_code == 0
    now = time.time()
    async with _client(secured, "town", ADMIN) as admin:  # what ingest wrote: one uplink a minute ago
        await admin.write(f"{UPLINK_MEASUREMENT},dev_eui=70B3D5E75E00B001,municipality=M f_cnt=7i,rssi=-90,snr=5 "
                          f"{int((now - 60) * 1e9)}")
    device = DeviceInfo("70B3D5E75E00B001", "bay", "nwave-nps405", "parking", "P1", "M", None, None)
    async with _client(secured, "town", ("alarms-only", "alarms-only-pw")) as alarms:
        health = await read_health(alarms, [device], now=datetime.fromtimestamp(now, UTC))
    assert health[device.dev_eui].last_uplink is not None
    assert health[device.dev_eui].rssi == -90
