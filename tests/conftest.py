"""Fixtures shared by the whole suite: real Mosquitto and InfluxDB servers on free loopback ports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.localstack import InfluxServer, MosquittoServer, create_database, drop_database
from stadtpuls.settings import get_settings


@pytest.fixture(autouse=True)
def _settings_read_afresh() -> Iterator[None]:
    """Every test reads the environment's settings anew: a command run by one test never sees another's."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoServer]:
    """One broker for the whole run; tests keep apart by using their own topics and client ids."""
    with MosquittoServer(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


@pytest.fixture(scope="session")
def influxdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """One InfluxDB for the whole run; tests keep apart through ``influx_db_name``."""
    with InfluxServer(tmp_path_factory.mktemp("influxdb")) as server:
        yield server


@pytest.fixture
def fresh_mosquitto(tmp_path: Path) -> Iterator[MosquittoServer]:
    """A broker of this test's own, free to be stopped or restarted."""
    with MosquittoServer(tmp_path / "mosquitto") as server:
        yield server


@pytest.fixture
def fresh_influxdb(tmp_path: Path) -> Iterator[InfluxServer]:
    """An InfluxDB of this test's own, free to be stopped or restarted."""
    with InfluxServer(tmp_path / "influxdb") as server:
        yield server


@pytest.fixture
def influx_db_name(influxdb: InfluxServer) -> Iterator[str]:
    """A database in the session InfluxDB that only this test uses; created before, dropped after."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    create_database(influxdb.url, name)
    yield name
    drop_database(influxdb.url, name)
