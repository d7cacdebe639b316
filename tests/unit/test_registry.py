"""The device registry on SQLite (default) and on PostgreSQL (a database of the test's own)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, text

import stadtpuls.db
from devices.registry import DeviceRegistry, NotFoundError, RegistryError, check_device
from stadtpuls.db import alembic_config, head_revisions, is_current, make_engine, open_database

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
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server skips the test
        admin.dispose()
        pytest.skip(f"no PostgreSQL server at {POSTGRES_ADMIN_URL}: {exc}")
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    open_database(url).kw["bind"].dispose()
    open_database.cache_clear()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    """Each test below runs on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_register_update_list_remove(url: str) -> None:
    registry = DeviceRegistry(url)
    device, created = registry.upsert(
        "70b3-d5e7-5e00-0001", model="cayenne-lpp", name="Rathaus", site="Markt", municipality="Musterstadt"
    )
    assert created
    assert device.dev_eui == "70B3D5E75E000001"
    assert device.device_class == "generic"
    assert device.status == "installed"
    assert device.installed_on is not None
    again, created = registry.upsert(
        "70B3D5E75E000001", model="cayenne-lpp", name="Rathaus 2", site="Markt", municipality="Musterstadt",
        lat=50.1, lon=8.6,
    )
    assert not created
    assert again.name == "Rathaus 2"
    assert (again.lat, again.lon) == (50.1, 8.6)
    registry.upsert("0101010101010101", model="cayenne-lpp", name="B", site="Bahnhof", municipality="Nachbarort")
    assert [d.dev_eui for d in registry.list()] == ["70B3D5E75E000001", "0101010101010101"]
    assert [d.name for d in registry.list(municipality="Nachbarort")] == ["B"]
    assert registry.municipalities() == ["Musterstadt", "Nachbarort"]
    assert [s.name for s in registry.sites("Musterstadt")] == ["Markt"]
    assert registry.get("0101010101010101") is not None
    assert registry.remove("0101010101010101")
    assert registry.get("0101010101010101") is None


def test_sites_have_type_location_and_capacity(url: str) -> None:
    registry = DeviceRegistry(url)
    site, created = registry.save_site("Musterstadt", "P1 Rathaus", type="parking_lot", lat=50.0, lon=8.0,
                                       capacity=120)
    assert created
    assert (site.type, site.capacity) == ("parking_lot", 120)
    site, created = registry.save_site("Musterstadt", "P1 Rathaus", type="parking_lot", capacity=90)
    assert not created
    assert site.capacity == 90
    assert site.lat is None
    # the same name in another municipality is another site
    registry.save_site("Nachbarort", "P1 Rathaus", type="street_section")
    assert len(registry.sites()) == 2
    with pytest.raises(RegistryError, match="capacity"):
        registry.save_site("Musterstadt", "Ring", type="street_section", capacity=10)
    with pytest.raises(RegistryError, match="site type"):
        registry.save_site("Musterstadt", "Ring", type="carpark")


def test_lifecycle_keeps_who_and_when(url: str) -> None:
    registry = DeviceRegistry(url)
    registry.upsert("0101010101010101", model="nwave-nps405", name="Bay 1", site="P1", municipality="M",
                    status="planned", by="anna")
    assert registry.get("0101010101010101").installed_on is None  # type: ignore[union-attr]
    registry.set_status("0101010101010101", "installed", by="ben", note="pole 4")
    registry.set_status("0101010101010101", "active", by="system")
    registry.set_status("0101010101010101", "maintenance", by="ben", note="battery swap")
    registry.set_status("0101010101010101", "active", by="ben")
    retired = registry.retire("0101010101010101", by="carla", note="vandalised")
    assert retired.status == "retired"
    assert retired.status_changed_by == "carla"
    assert retired.installed_on is not None
    history = registry.history("0101010101010101")
    assert [(h.from_status, h.to_status, h.changed_by) for h in history] == [
        (None, "planned", "anna"),
        ("planned", "installed", "ben"),
        ("installed", "active", "system"),
        ("active", "maintenance", "ben"),
        ("maintenance", "active", "ben"),
        ("active", "retired", "carla"),
    ]
    assert history[1].note == "pole 4"
    assert history[0].changed_at <= history[-1].changed_at
    with pytest.raises(RegistryError, match="retired is final"):
        registry.set_status("0101010101010101", "active", by="dora")
    with pytest.raises(RegistryError, match="status must be one of"):
        registry.set_status("0101010101010101", "broken", by="dora")


def test_a_municipality_sees_and_changes_only_its_own_devices(url: str) -> None:
    registry = DeviceRegistry(url)
    registry.upsert("0101010101010101", model="cayenne-lpp", name="A", site="S", municipality="Musterstadt")
    assert registry.get("0101010101010101", owner="Nachbarort") is None
    with pytest.raises(NotFoundError):
        registry.update("0101010101010101", by="x", owner="Nachbarort", name="stolen")
    with pytest.raises(NotFoundError):
        registry.retire("0101010101010101", by="x", owner="Nachbarort")
    with pytest.raises(NotFoundError):
        registry.history("0101010101010101", owner="Nachbarort")
    spec = check_device("0101010101010101", model="cayenne-lpp", name="A", site="S", municipality="Nachbarort")
    [refused] = registry.plan([spec], owner="Nachbarort")
    assert refused.action == "refused"
    assert "another municipality" in refused.problem
    with pytest.raises(RegistryError, match="another municipality"):
        registry.save_all([spec], by="x", owner="Nachbarort")
    updated = registry.update("0101010101010101", by="x", owner="Musterstadt", notes="behind the sign",
                              installed_on=date(2026, 3, 1))
    assert (updated.notes, updated.installed_on, updated.name) == ("behind the sign", date(2026, 3, 1), "A")


def test_search_by_dev_eui_name_or_site(url: str) -> None:
    registry = DeviceRegistry(url)
    registry.upsert("70B3D5E75E000001", model="cayenne-lpp", name="Rathaus Klima", site="Markt", municipality="M")
    registry.upsert("0101010101010101", model="cayenne-lpp", name="Bahnhof", site="Gleis_1%s", municipality="M")
    assert [d.name for d in registry.list(search="rathaus")] == ["Rathaus Klima"]
    assert [d.name for d in registry.list(search="70b3-d5")] == ["Rathaus Klima"]
    assert [d.name for d in registry.list(search="markt")] == ["Rathaus Klima"]
    assert [d.name for d in registry.list(search="_1%s")] == ["Bahnhof"]  # wildcards are text
    assert registry.list(search="s%") == []  # would match everything as a LIKE pattern


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
        ({"status": "lost"}, "status must be"),
    ],
)
def test_invalid_devices_are_refused(sqlite_url: str, kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "dev_eui": "0101010101010101", "model": "cayenne-lpp", "name": "n", "site": "s", "municipality": "m"
    }
    values.update(kwargs)
    with pytest.raises(RegistryError, match=message):
        DeviceRegistry(sqlite_url).upsert(**values)  # type: ignore[arg-type]


OLD_DEVICES = [
    ("70B3D5E75E000001", "Rathaus Klima", "cayenne-lpp", "Rathaus", "Musterstadt", 50.1, 8.6),
    ("70B3D5E75E000002", "Rathaus Bay 1", "nwave-nps405", "Rathaus", "Musterstadt", None, None),
    ("0101010101010101", "Bahnhof", "elsys-ers-co2", "Bahnhof", "Nachbarort", 50.2, 8.7),
]


def test_a_registry_of_revision_0001_upgrades_without_loss(url: str) -> None:
    engine = make_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    with engine.begin() as connection:
        for eui, name, model, site, municipality, lat, lon in OLD_DEVICES:
            connection.execute(
                text(
                    "INSERT INTO devices (dev_eui, name, model, site, municipality, lat, lon, created_at, updated_at)"
                    " VALUES (:e, :n, :m, :s, :mu, :lat, :lon, '2025-05-01 10:00:00', '2025-05-01 10:00:00')"
                ),
                {"e": eui, "n": name, "m": model, "s": site, "mu": municipality, "lat": lat, "lon": lon},
            )
    engine.dispose()
    registry = DeviceRegistry(url)  # opening migrates to the newest revision
    devices = {d.dev_eui: d for d in registry.list()}
    assert {(d.dev_eui, d.name, d.model, d.site, d.municipality, d.lat, d.lon) for d in devices.values()} == set(
        OLD_DEVICES
    )
    assert {d.status for d in devices.values()} == {"active"}
    assert registry.municipalities() == ["Musterstadt", "Nachbarort"]
    assert [(s.municipality, s.name, s.type) for s in registry.sites()] == [
        ("Musterstadt", "Rathaus", "other"), ("Nachbarort", "Bahnhof", "other")
    ]
    history = registry.history("70B3D5E75E000002")
    assert [(h.from_status, h.to_status, h.changed_by) for h in history] == [(None, "active", "migration")]
    assert history[0].changed_at.year == 2025
    # and the upgraded registry works as a new one does
    registry.upsert("70B3D5E75E000003", model="cayenne-lpp", name="Neu", site="Rathaus", municipality="Musterstadt")
    assert len(registry.sites("Musterstadt")) == 1


def test_the_newest_revision_downgrades_to_0001_and_back(url: str) -> None:
    registry = DeviceRegistry(url)
    registry.upsert("70B3D5E75E000001", model="cayenne-lpp", name="A", site="S", municipality="M", lat=1.0, lon=2.0)
    engine = make_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT dev_eui, site, municipality, lat FROM devices")).all()
    assert [tuple(r) for r in rows] == [("70B3D5E75E000001", "S", "M", 1.0)]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
    assert DeviceRegistry(url).get("70B3D5E75E000001").site == "S"  # type: ignore[union-attr]


def test_the_cheap_head_is_alembics_head() -> None:
    assert head_revisions() == frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def test_a_current_database_opens_without_migrating(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(url)
    assert not is_current(engine)  # no version table yet
    stadtpuls.db.upgrade(engine)
    assert is_current(engine)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002_api_keys")
    assert not is_current(engine)
    engine.dispose()
    calls: list[Engine] = []
    original = stadtpuls.db.upgrade
    monkeypatch.setattr(stadtpuls.db, "upgrade", lambda e: (calls.append(e), original(e)))
    open_database(url)  # behind: migrated
    assert len(calls) == 1
    assert is_current(calls[0])
    calls[0].dispose()
    open_database.cache_clear()
    open_database(url)  # current: one query, no migration
    assert len(calls) == 1
