"""The quarantine store on SQLite and on PostgreSQL: identical rejections counted, text PostgreSQL refuses made
storable, retention and a row cap, filters and purge, batches from the pending folder stored exactly once, and
the migration that adds all this to a quarantine kept before.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import text

from devices.alarms import AlarmStore
from ingest import quarantine as quarantine_module
from ingest.pending import QuarantineRefused
from ingest.quarantine import QuarantineFilter, QuarantineStore
from ingest.records import Message, Rejection
from stadtpuls.cli import main
from stadtpuls.db import alembic_config, make_engine
from stadtpuls.errors import ConfigError
from stadtpuls.settings import get_settings, load_settings
from tests.unit.test_registry import postgres_url, sqlite_url  # noqa: F401  (the fixtures)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ns(moment: datetime) -> int:
    return int(moment.timestamp() * 1e9)


def rejection(payload: bytes, *, at: datetime = T0, stage: str = "codec", reason: str = "codec x: bad frame",
              dev_eui: str | None = "70B3D5E75E000001", topic: str = "v3/app/devices/d1/up") -> Rejection:
    return Rejection(Message(topic, payload, ns(at)), stage, reason, dev_eui, "Musterstadt" if dev_eui else None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    """Each test below runs on SQLite and on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


def test_identical_rejections_are_one_row_with_a_count_and_first_and_last_seen(url: str) -> None:
    store = QuarantineStore(url)
    store.add_many([rejection(b"\x01\x02", at=T0 + timedelta(minutes=i)) for i in range(1000)])
    store.add_many([rejection(b"\x01\x02", at=T0 + timedelta(days=1))])  # a later batch counts into it too
    store.add_many([rejection(b"\x01\x03"), rejection(b"\x01\x02", stage="normalise"),
                    rejection(b"\x01\x02", dev_eui=None, topic="v3/app/devices/d9/up")])
    rows = {(r.payload, r.stage, r.dev_eui): r for r in store.select()}
    assert len(rows) == 4
    same = rows[(b"\x01\x02", "codec", "70B3D5E75E000001")]
    assert same.count == 1001
    assert same.received_at.replace(tzinfo=UTC) == T0
    assert same.last_seen.replace(tzinfo=UTC) == T0 + timedelta(days=1)
    assert {r.count for key, r in rows.items() if key != (b"\x01\x02", "codec", "70B3D5E75E000001")} == {1}
    assert store.matching(QuarantineFilter()).messages == 1004


def test_a_replayed_row_is_not_counted_into_a_new_rejection(url: str) -> None:
    store = QuarantineStore(url)
    store.add_many([rejection(b"\x05")])
    [row] = store.select()
    store.mark_replayed([row.id])
    store.add_many([rejection(b"\x05")])
    [fresh] = store.select()
    assert fresh.id != row.id
    assert fresh.count == 1


def test_text_postgresql_refuses_is_stored_escaped(url: str) -> None:
    store = QuarantineStore(url)
    store.add_many([rejection(b"\x00", reason="codec x: unexpected byte \x00 at 0", topic="v3/a/devices/\udcff/up",
                              dev_eui="0123456789ABCDEF-too-long")])
    [row] = store.select()
    assert row.reason == "codec x: unexpected byte \\x00 at 0"
    assert row.topic == "v3/a/devices/\\udcff/up"
    assert row.dev_eui == "0123456789ABCDEF"
    assert row.payload == b"\x00"  # the payload is bytes: kept as it came


def test_retention_and_the_row_cap_delete_the_rows_seen_longest_ago(url: str) -> None:
    store = QuarantineStore(url)
    now = T0 + timedelta(days=40)
    store.add_many([rejection(b"old")] * 3)  # one row standing for 3 messages, last seen 40 days ago
    store.add_many([rejection(bytes([i]), at=now - timedelta(days=5, minutes=i)) for i in range(10)])
    expired, capped = store.enforce_limits(retention_days=30, max_rows=6, now=now)
    assert (expired.rows, expired.messages) == (1, 3)
    assert (capped.rows, capped.messages) == (4, 4)
    left = sorted(r.payload[0] for r in store.select())
    assert left == [0, 1, 2, 3, 4, 5]  # the most recently seen stay


def test_filters_select_by_stage_device_and_time_and_purge_deletes_what_they_select(url: str) -> None:
    store = QuarantineStore(url)
    store.add_many([
        rejection(b"a", stage="codec", at=T0),
        rejection(b"b", stage="device", dev_eui="70B3D5E75E000002", at=T0 + timedelta(days=1)),
        rejection(b"c", stage="codec", dev_eui="70B3D5E75E000002", at=T0 + timedelta(days=2)),
    ])
    def payloads(where: QuarantineFilter) -> list[bytes]:
        return sorted(r.payload for r in store.list(where=where))
    assert payloads(QuarantineFilter(stage="codec")) == [b"a", b"c"]
    assert payloads(QuarantineFilter(dev_eui="70b3-d5e7-5e00-0002")) == [b"b", b"c"]
    assert payloads(QuarantineFilter(since=T0 + timedelta(hours=12))) == [b"b", b"c"]
    assert payloads(QuarantineFilter(until=T0 + timedelta(hours=36))) == [b"a", b"b"]
    older = QuarantineFilter(older_than=T0 + timedelta(days=1, hours=1))
    assert store.matching(older).rows == 2
    assert store.purge(older).rows == 2
    assert [r.payload for r in store.select()] == [b"c"]


def test_a_pending_batch_offered_twice_is_stored_once(url: str) -> None:
    store = QuarantineStore(url)
    batch = [rejection(b"p1"), rejection(b"p2")]
    assert store.store_pending("folder-a", "batch-1", batch) is True
    assert store.store_pending("folder-a", "batch-1", batch) is False  # stored before the crash: not again
    assert store.store_pending("folder-b", "batch-1", batch) is True  # another folder's batch is its own
    assert store.store_pending("folder-a", "batch-2", [rejection(b"p3")]) is True
    counts = sorted((r.payload, r.count) for r in store.select())
    assert counts == [(b"p1", 2), (b"p2", 2), (b"p3", 1)]


def test_migration_0005_counts_rows_kept_before_and_downgrades(url: str) -> None:
    engine = make_engine(url)
    config = alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0004_anomaly_events")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO quarantine (received_at, topic, payload, stage, reason) "
            "VALUES ('2026-10-01 08:00:00+00:00', 't', :p, 'codec', 'old')"
        ), {"p": b"\x07"})
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()
    store = QuarantineStore(url)
    [row] = store.select()
    assert (row.count, row.fingerprint) == (1, None)
    assert row.last_seen.replace(tzinfo=UTC) == datetime(2026, 10, 1, 8, tzinfo=UTC)
    store.add_many([Rejection(Message("t", b"\x07", ns(T0)), "codec", "old")])  # never merged into an old row
    assert sorted(r.count for r in store.select()) == [1, 1]
    engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004_anomaly_events")
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM quarantine")).scalar() == 2
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    engine.dispose()


# --- the command line ----------------------------------------------------------------------------------------
@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("STADTPULS_DATABASE_URL", url)
    get_settings.cache_clear()
    now = datetime.now(UTC)
    QuarantineStore(url).add_many([
        rejection(b"a", stage="codec", at=now - timedelta(days=40)),
        rejection(b"b", stage="device", dev_eui="70B3D5E75E000002", at=now - timedelta(hours=3)),
        *[rejection(b"c", stage="codec", dev_eui="70B3D5E75E000002", at=now - timedelta(minutes=i)) for i in range(5)],
    ])

    def invoke(*args: str, answer: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=answer, catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


def test_quarantine_list_filters_by_stage_device_and_time(cli) -> None:  # type: ignore[no-untyped-def]
    both = cli("quarantine", "list", "--device", "70B3D5E75E000002").output
    assert "device " in both
    assert "codec " in both
    codec = cli("quarantine", "list", "--stage", "codec", "--device", "70B3D5E75E000002").output.splitlines()
    assert len(codec) == 2  # the header and one row standing for five messages
    assert "     5  codec" in codec[1]
    recent = cli("quarantine", "list", "--since", "1h").output
    assert "70B3D5E75E000002" in recent
    assert " device " not in recent
    old = cli("quarantine", "list", "--until", (datetime.now(UTC) - timedelta(days=30)).date().isoformat()).output
    assert len(old.splitlines()) == 2
    assert "nothing in quarantine matches" in cli("quarantine", "list", "--stage", "time").output
    bad = CliRunner().invoke(main, ["quarantine", "list", "--since", "yesterday"])
    assert bad.exit_code == 2
    assert "--since" in bad.output


def test_quarantine_purge_counts_asks_and_deletes(cli) -> None:  # type: ignore[no-untyped-def]
    declined = cli("quarantine", "purge", "--older-than", "30d", answer="n\n")
    assert "delete 1 rows (1 messages) from quarantine?" in declined.output
    assert declined.exit_code == 1
    assert "purged" not in declined.output
    done = cli("quarantine", "purge", "--stage", "codec", "--yes")
    assert "purged 2 rows (6 messages)" in done.output
    left = cli("quarantine", "list").output.splitlines()
    assert len(left) == 2
    assert "device " in left[1]
    assert "nothing to purge" in cli("quarantine", "purge", "--stage", "codec", "--yes").output


def test_a_burst_of_identical_rejections_still_raises_the_quarantine_alarm(url: str) -> None:
    store = QuarantineStore(url)
    store.add_many([rejection(b"\x01", at=T0 + timedelta(minutes=i)) for i in range(12)])
    assert store.count() == 1
    assert AlarmStore(url).quarantined(since=T0 + timedelta(minutes=5)) == {"70B3D5E75E000001": 12}


@pytest.mark.parametrize(("variable", "value"), [("STADTPULS_QUARANTINE_MAX_ROWS", "0"),
                                                 ("STADTPULS_QUARANTINE_RETENTION_DAYS", "-1"),
                                                 ("STADTPULS_QUARANTINE_PENDING_MAX_MB", "lots")])
def test_a_bad_quarantine_setting_names_its_variable(variable: str, value: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=variable):
        load_settings()


def test_the_quarantine_settings_have_their_defaults() -> None:
    limits = load_settings().quarantine
    assert (limits.retention_days, limits.max_rows, limits.pending_max_mb) == (30.0, 1_000_000, 256)


@pytest.mark.postgres
def test_a_record_postgresql_refuses_is_a_refusal_not_an_outage(postgres_url: str,  # noqa: F811
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(quarantine_module, "_clean", lambda text: text)  # as before text was made storable
    store = QuarantineStore(postgres_url)
    with pytest.raises(QuarantineRefused, match="DataError"):
        store.store_pending("folder-a", "batch-1", [rejection(b"x", reason="byte \x00")])
    assert store.store_pending("folder-a", "batch-2", [rejection(b"y")]) is True  # nothing half-stored
    assert [r.payload for r in store.select()] == [b"y"]
