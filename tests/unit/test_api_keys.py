"""API keys: stored hashed, roles and municipalities checked, the CLI shows a new key once on its last line,
the cache honours revocation and expiry, the last use is written at most once a minute, rate limits answer
with the time to wait.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from api.auth import KeyCache, Principal, RateLimiter
from api.cli import keys_group, parse_expiry
from api.keys import ApiKeyError, KeyStore, Role, hash_key
from stadtpuls.errors import DataError
from stadtpuls.settings import get_settings


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'keys.sqlite3'}"


@pytest.fixture
def store(url: str) -> KeyStore:
    return KeyStore(url)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_only_the_hash_of_a_key_is_stored(store: KeyStore, url: str) -> None:
    record, secret = store.create(Role.READER, municipality="Musterstadt", name="app")
    assert secret.startswith("sp_")
    assert len(secret) > 40
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        stored = db.execute("SELECT * FROM api_keys").fetchall()
    text = repr(stored)
    assert secret not in text
    assert hash_key(secret) in text
    assert record.prefix == secret[:10]
    found = store.lookup(secret)
    assert found is not None
    assert found.id == record.id
    assert found.role is Role.READER
    assert found.municipality == "Musterstadt"


@pytest.mark.parametrize(
    ("role", "municipality", "message"),
    [
        ("reader", None, "give --municipality"),
        ("technician", "  ", "give --municipality"),
        ("admin", "Musterstadt", "covers every municipality"),
        ("root", None, "role must be one of reader, technician, admin"),
        ("reader", "bad\nname", "control character"),
    ],
)
def test_a_key_is_refused_for_a_wrong_scope(store: KeyStore, role: str, municipality: str | None, message: str) -> None:
    with pytest.raises(ApiKeyError, match=message):
        store.create(role, municipality=municipality)


def test_an_expiry_in_the_past_is_refused(store: KeyStore) -> None:
    with pytest.raises(ApiKeyError, match="in the past"):
        store.create(Role.ADMIN, expires_at=datetime.now(UTC) - timedelta(seconds=1))


def test_unknown_and_malformed_keys_find_nothing(store: KeyStore) -> None:
    store.create(Role.ADMIN)
    for guess in ("", "sp_", "sp_x' OR 1=1 --", "not-a-key", "sp_" + "a" * 500, "sp_\x00\ud800"):
        assert store.lookup(guess) is None


def test_revoking_keeps_the_key_listed_and_refuses_an_unknown_id(store: KeyStore) -> None:
    record, _ = store.create(Role.ADMIN)
    revoked = store.revoke(record.id)
    assert revoked.revoked_at is not None
    assert not revoked.usable(datetime.now(UTC))
    assert store.revoke(record.id).revoked_at == revoked.revoked_at
    assert [r.id for r in store.list()] == [record.id]
    with pytest.raises(ApiKeyError, match="no API key has the id 99"):
        store.revoke(99)


def test_roles_cover_the_roles_below_them() -> None:
    assert Role.ADMIN.covers(Role.TECHNICIAN)
    assert Role.TECHNICIAN.covers(Role.READER)
    assert not Role.READER.covers(Role.TECHNICIAN)
    assert not Role.TECHNICIAN.covers(Role.ADMIN)


def test_a_municipality_key_sees_only_its_municipality() -> None:
    reader = Principal(key_id=1, name="r", role=Role.READER, municipality="A")
    admin = Principal(key_id=2, name="a", role=Role.ADMIN, municipality=None)
    assert reader.scope(None) == ("A", True)
    assert reader.scope("A") == ("A", True)
    assert reader.scope("B")[1] is False
    assert admin.scope("B") == ("B", True)
    assert admin.scope(None) == (None, True)
    assert reader.sees("A")
    assert not reader.sees("B")
    assert admin.sees("B")


async def test_the_cache_reuses_a_lookup_until_its_time_is_up_then_sees_the_revocation(store: KeyStore) -> None:
    clock = Clock()
    record, secret = store.create(Role.READER, municipality="A")
    cache = KeyCache(store, ttl=10.0, clock=clock)
    assert (await cache.resolve(secret)) is not None
    store.revoke(record.id)
    clock.now += 9.0
    assert (await cache.resolve(secret)) is not None  # still cached: the revocation is not yet seen
    assert cache.lookups == 1
    clock.now += 1.0
    assert (await cache.resolve(secret)) is None
    assert cache.lookups == 2


async def test_forgetting_a_key_honours_its_revocation_at_once(store: KeyStore) -> None:
    record, secret = store.create(Role.READER, municipality="A")
    cache = KeyCache(store, ttl=60.0, clock=Clock())
    assert (await cache.resolve(secret)) is not None
    store.revoke(record.id)
    cache.forget(record.id)
    assert (await cache.resolve(secret)) is None


async def test_an_expired_key_is_refused_even_from_the_cache(store: KeyStore) -> None:
    record, secret = store.create(Role.ADMIN, expires_at=datetime.now(UTC) + timedelta(seconds=1))
    cache = KeyCache(store, ttl=3600.0, clock=Clock())
    assert (await cache.resolve(secret)) is not None
    # the record's expiry is checked against the wall clock on every request, cached or not
    expired = record.expires_at
    assert expired is not None
    with pytest.MonkeyPatch.context() as patch:
        later = expired + timedelta(seconds=1)

        class Later(datetime):
            @classmethod
            def now(cls, tz: object = None) -> datetime:  # type: ignore[override]
                return later

        patch.setattr("api.auth.datetime", Later)
        assert (await cache.resolve(secret)) is None


async def test_unknown_keys_are_cached_too(store: KeyStore) -> None:
    cache = KeyCache(store, ttl=10.0, clock=Clock())
    for _ in range(5):
        assert (await cache.resolve("sp_guess")) is None
    assert cache.lookups == 1


class CountingStore(KeyStore):
    touches: list[dict[int, datetime]]

    def touch(self, used: dict[int, datetime]) -> None:
        self.touches.append(used)
        super().touch(used)


async def test_the_last_use_is_written_at_most_once_a_minute(url: str) -> None:
    store = CountingStore(url)
    store.touches = []
    clock = Clock()
    record, secret = store.create(Role.READER, municipality="A")
    cache = KeyCache(store, ttl=10.0, clock=clock)
    for _ in range(100):
        await cache.resolve(secret)
        clock.now += 0.5  # 100 requests in 50 s
    assert len(store.touches) == 1
    clock.now += 20
    await cache.resolve(secret)
    assert len(store.touches) == 2
    listed = store.list()[0]
    assert listed.last_used_at is not None
    assert listed.id == record.id


def test_the_rate_limit_allows_a_burst_then_says_how_long_to_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("k") == 1.0
    assert limiter.take("other") == 0.0  # each caller has a bucket of its own
    clock.now += 1.0
    assert limiter.take("k") == 0.0


def test_a_slow_rate_asks_for_a_longer_wait() -> None:
    limiter = RateLimiter(per_minute=2, burst=1, clock=Clock())
    assert limiter.take("k") == 0.0
    assert limiter.take("k") == 30.0


def test_expiry_accepts_durations_and_times_with_zone() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_expiry("30d", now=now) == now + timedelta(days=30)
    assert parse_expiry("12h", now=now) == now + timedelta(hours=12)
    assert parse_expiry("2027-01-01T00:00:00+01:00").utcoffset() == timedelta(hours=1)
    for bad in ("tomorrow", "2027-01-01T00:00:00", "0d", "-3d"):
        with pytest.raises(DataError):
            parse_expiry(bad, now=now)


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTPULS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("STADTPULS_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_cli_shows_a_new_key_alone_on_the_last_line_then_lists_and_revokes_it(cli_env: None) -> None:
    runner = CliRunner()
    created = runner.invoke(keys_group, ["create", "--role", "reader", "--municipality", "Musterstadt",
                                         "--name", "Stadtplan-App", "--expires", "30d"])
    assert created.exit_code == 0, created.output
    secret = created.output.strip().splitlines()[-1]
    assert secret.startswith("sp_")
    assert " " not in secret
    store = KeyStore(get_settings().registry_url)
    record = store.lookup(secret)
    assert record is not None
    assert record.name == "Stadtplan-App"
    assert record.expires_at is not None

    listed = runner.invoke(keys_group, ["list"])
    assert listed.exit_code == 0
    assert "Stadtplan-App" in listed.output
    assert "active" in listed.output
    assert secret not in listed.output
    assert secret[:10] in listed.output

    revoked = runner.invoke(keys_group, ["revoke", str(record.id)])
    assert revoked.exit_code == 0
    assert "revoked" in revoked.output
    assert store.lookup(secret) is not None
    assert not store.lookup(secret).usable(datetime.now(UTC))


def test_the_cli_refuses_a_reader_key_without_municipality(cli_env: None) -> None:
    result = CliRunner().invoke(keys_group, ["create", "--role", "reader"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ApiKeyError)
    assert "give --municipality" in str(result.exception)
