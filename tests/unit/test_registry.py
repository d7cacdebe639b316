"""The device registry on SQLite (default) and on PostgreSQL (a database of the test's own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from devices.registry import DeviceRegistry, RegistryError
from stadtpuls.db import open_database

POSTGRES_ADMIN_URL = os.environ.get(
    "STADTPULS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'registry.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh database on the PostgreSQL server, created for this test and dropped afterwards."""
    name = f"stadtpuls_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    open_database(url).kw["bind"].dispose()
    open_database.cache_clear()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def exercise(url: str) -> None:
    registry = DeviceRegistry(url)
    device, created = registry.upsert(
        "70b3-d5e7-5e00-0001", model="cayenne-lpp", name="Rathaus", site="Markt", municipality="Musterstadt"
    )
    assert created and device.dev_eui == "70B3D5E75E000001" and device.device_class == "generic"
    again, created = registry.upsert(
        "70B3D5E75E000001", model="cayenne-lpp", name="Rathaus 2", site="Markt", municipality="Musterstadt",
        lat=50.1, lon=8.6,
    )
    assert not created and again.name == "Rathaus 2" and (again.lat, again.lon) == (50.1, 8.6)
    registry.upsert("0101010101010101", model="cayenne-lpp", name="B", site="Bahnhof", municipality="Nachbarort")
    assert [d.dev_eui for d in registry.list()] == ["70B3D5E75E000001", "0101010101010101"]
    assert [d.name for d in registry.list(municipality="Nachbarort")] == ["B"]
    assert registry.get("0101010101010101") is not None
    assert registry.remove("0101010101010101") and registry.get("0101010101010101") is None


def test_registry_on_sqlite(sqlite_url: str) -> None:
    exercise(sqlite_url)


@pytest.mark.postgres
def test_registry_on_postgres(postgres_url: str) -> None:
    exercise(postgres_url)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dev_eui": "123"}, "16 hex digits"),
        ({"model": "acme-nothing"}, "unknown device model"),
        ({"name": ""}, "name must be"),
        ({"site": "a\nb"}, "control character"),
        ({"municipality": "x\\"}, "backslash"),
        ({"lat": 91.0, "lon": 0.0}, "latitude"),
        ({"lat": 50.0}, "both"),
    ],
)
def test_invalid_devices_are_refused(sqlite_url: str, kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "dev_eui": "0101010101010101", "model": "cayenne-lpp", "name": "n", "site": "s", "municipality": "m"
    }
    values.update(kwargs)
    with pytest.raises(RegistryError, match=message):
        DeviceRegistry(sqlite_url).upsert(**values)  # type: ignore[arg-type]
