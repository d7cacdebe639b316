"""The anomaly events store on SQLite (and once on PostgreSQL): idempotent, merging, closing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from processing.events import Detection, EventError, EventStore
from stadtpuls.db import open_database

POSTGRES_ADMIN_URL = os.environ.get(
    "STADTPULS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
H = 3600.0
T0 = 1_750_000_000.0
EUI = "70B3D5E75E000001"


def stuck(onset: float, start: float, end: float, *, score: float = 2.0, is_open: bool = False,
          reason: str = "PM2.5 unchanged") -> Detection:
    return Detection(EUI, "pm2_5", "", "stuck", onset, start, end, score, reason, is_open, "Musterstadt", "Markt")


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    return EventStore(f"sqlite:///{tmp_path / 'events.sqlite3'}")


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


def exercise(store: EventStore) -> None:
    first = stuck(T0, T0 + 3 * H, T0 + 5 * H, is_open=True)
    report = store.upsert([first], examined=[first.series], until=T0 + 5 * H, now=T0 + 5 * H)
    assert (report.inserted, report.updated, report.closed) == (1, 0, 0)
    # the same data again: the same event, not a second one
    report = store.upsert([first], examined=[first.series], until=T0 + 5 * H, now=T0 + 6 * H)
    assert (report.inserted, report.updated) == (0, 1)
    [event] = store.list()
    assert event.open
    assert event.onset.timestamp() == T0
    assert event.end.timestamp() == T0 + 5 * H
    assert event.first_seen.timestamp() == T0 + 5 * H
    assert event.last_seen.timestamp() == T0 + 6 * H
    # the next window sees the condition go on, from a shorter history (later onset): merged, extended
    later = stuck(T0 + 4 * H, T0 + 7 * H, T0 + 9 * H, score=3.0, reason="worse", is_open=True)
    store.upsert([later], examined=[later.series], until=T0 + 9 * H)
    [event] = store.list()
    assert (event.onset.timestamp(), event.start.timestamp(), event.end.timestamp()) == (T0, T0 + 3 * H, T0 + 9 * H)
    assert event.score == 3.0
    assert event.reason == "worse"
    assert event.open
    # a run that examines the series and no longer finds the condition closes the event
    report = store.upsert([], examined=[later.series], until=T0 + 12 * H)
    assert report.closed == 1
    [event] = store.list()
    assert not event.open
    assert store.list(open_only=True) == []


def test_store_on_sqlite(store: EventStore) -> None:
    exercise(store)


@pytest.mark.postgres
def test_store_on_postgres(postgres_url: str) -> None:
    exercise(EventStore(postgres_url))


def test_bridging_detection_joins_stored_events(store: EventStore) -> None:
    store.upsert([stuck(T0, T0 + H, T0 + 2 * H), stuck(T0 + 10 * H, T0 + 11 * H, T0 + 12 * H)])
    assert len(store.list()) == 2
    report = store.upsert([stuck(T0 + H, T0 + 2 * H, T0 + 11 * H)])
    assert report.merged == 1
    [event] = store.list()
    assert (event.onset.timestamp(), event.end.timestamp()) == (T0, T0 + 12 * H)


def test_separate_series_and_kinds_stay_apart(store: EventStore) -> None:
    base = stuck(T0, T0 + H, T0 + 2 * H)
    other_channel = Detection(EUI, "pm2_5", "2", "stuck", T0, T0 + H, T0 + 2 * H, 2.0, "x")
    other_kind = Detection(EUI, "pm2_5", "", "spike", T0, T0 + H, T0 + 2 * H, 2.0, "x")
    store.upsert([base, other_channel, other_kind])
    assert sorted((e.channel, e.kind) for e in store.list()) == [("", "spike"), ("", "stuck"), ("2", "stuck")]


def test_close_leaves_events_newer_than_the_data(store: EventStore) -> None:
    store.upsert([stuck(T0, T0 + H, T0 + 5 * H, is_open=True)])
    report = store.upsert([], examined=[(EUI, "pm2_5", "")], until=T0 + 4 * H)
    assert report.closed == 0
    assert store.list(open_only=True)


def test_a_closed_later_detection_closes_an_open_event(store: EventStore) -> None:
    store.upsert([stuck(T0, T0 + H, T0 + 2 * H, is_open=True)])
    store.upsert([stuck(T0, T0 + H, T0 + 3 * H, is_open=False)])
    assert store.list(open_only=True) == []


@pytest.mark.parametrize(
    ("detection", "message"),
    [
        (Detection("", "pm2_5", "", "stuck", T0, T0, T0, 1.0, "x"), "needs a device"),
        (Detection(EUI, "pm2_5", "", "stuck", T0, T0 - 1, T0, 1.0, "x"), "onset <= start <= end"),
        (Detection(EUI, "pm2_5", "", "stuck", float("nan"), T0, T0, 1.0, "x"), "finite"),
        (Detection(EUI, "pm2_5", "", "stuck", T0, T0, T0, float("inf"), "x"), "score"),
    ],
)
def test_bad_detections_are_refused(store: EventStore, detection: Detection, message: str) -> None:
    with pytest.raises(EventError, match=message):
        store.upsert([detection])
    assert store.list() == []


def test_listing_filters(store: EventStore) -> None:
    store.upsert([stuck(T0, T0 + H, T0 + 2 * H), Detection("0101010101010101", "", "", "gap", T0, T0 + H,
                                                           T0 + 2 * H, 1.5, "silent", True, "Nachbarort", "B")])
    assert [e.kind for e in store.list(municipality="Nachbarort")] == ["gap"]
    assert [e.dev_eui for e in store.list(kind="stuck")] == [EUI]
    assert [e.kind for e in store.list(open_only=True)] == ["gap"]
