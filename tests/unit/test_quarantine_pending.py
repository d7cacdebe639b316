"""The local pending folder of quarantine records: kept at once, stored when the database answers, exactly once
across a crash, refused or unreadable batches set aside, a full folder never blocking.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ingest import metrics
from ingest.pending import PendingQuarantine, QuarantineRefused, decode_batch, encode_batch
from ingest.quarantine import QuarantineStore
from ingest.records import Message, Rejection
from ingest.spool import Spool


def rejection(i: int, reason: str = "unknown device") -> Rejection:
    return Rejection(Message(f"v3/app/devices/d{i}/up", b"{\x00" + bytes([i]), 1_764_000_000_000_000_000 + i),
                     "device", f"{reason} {i}", f"70B3D5E75E{i:06X}", None)


async def until(condition: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition() and asyncio.get_running_loop().time() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)


def test_a_batch_survives_encoding_with_every_field() -> None:
    rejections = [rejection(1), Rejection(Message("t/\udcff", b"", 5), "envelope", "bad \x00", None, "Ort")]
    batch, decoded = decode_batch(encode_batch("b1", rejections))
    assert batch == "b1"
    assert decoded == rejections


async def test_rejections_are_kept_at_once_and_stored_when_the_database_answers(tmp_path: Path) -> None:
    stored: list[tuple[str, list[Rejection]]] = []
    failures = 3

    def store(source: str, batch: str, rejections: list[Rejection]) -> bool:
        nonlocal failures
        if failures:
            failures -= 1
            raise ConnectionError("database is restarting")
        stored.append((batch, rejections))
        return True

    pending = PendingQuarantine(tmp_path / "pending", store, max_bytes=1 << 20, max_backoff=0.01)
    task = asyncio.create_task(pending.run())
    await pending.add([rejection(1), rejection(2)])  # returns with the database still failing
    await pending.add([rejection(3)])
    assert len(list((tmp_path / "pending").glob("*.jsonl"))) >= 1
    await until(lambda: len(stored) == 2)
    task.cancel()
    assert [[r.reason for r in rs] for _, rs in stored] == [["unknown device 1", "unknown device 2"],
                                                          ["unknown device 3"]]
    assert not list((tmp_path / "pending").glob("*.jsonl"))
    pending.close()


async def test_a_batch_stored_just_before_a_crash_is_not_stored_again(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    db = QuarantineStore(f"sqlite:///{tmp_path / 'q.sqlite3'}")
    folder = tmp_path / "pending"
    first = PendingQuarantine(folder, db.store_pending, max_bytes=1 << 20, max_backoff=0.01)
    real_remove = Spool.remove

    def crash(self: Spool, seq: int) -> None:
        raise OSError("killed between the commit and the removal of the file")

    monkeypatch.setattr(Spool, "remove", crash)
    await first.add([rejection(1), rejection(2)])
    with pytest.raises(OSError, match="killed"):
        await asyncio.wait_for(first.run(), timeout=10)
    first.close()
    assert db.count() == 2  # stored, and the file is still there
    monkeypatch.setattr(Spool, "remove", real_remove)

    second = PendingQuarantine(folder, db.store_pending, max_bytes=1 << 20, max_backoff=0.01)
    assert len(second) == 1
    task = asyncio.create_task(second.run())
    await until(lambda: len(second) == 0)
    task.cancel()
    second.close()
    assert sorted((r.reason, r.count) for r in db.select()) == [("unknown device 1", 1), ("unknown device 2", 1)]


async def test_a_batch_the_database_refuses_is_set_aside_and_the_next_is_stored(tmp_path: Path) -> None:
    stored: list[str] = []

    def store(source: str, batch: str, rejections: list[Rejection]) -> bool:
        if any("poison" in r.reason for r in rejections):
            raise QuarantineRefused("DataError: value refused")
        stored.extend(r.reason for r in rejections)
        return True

    dropped = metrics.QUARANTINE_DROPPED.labels("refused")._value.get()
    pending = PendingQuarantine(tmp_path / "pending", store, max_bytes=1 << 20, max_backoff=0.01)
    task = asyncio.create_task(pending.run())
    await pending.add([rejection(1, "poison")])
    await pending.add([rejection(2)])
    await until(lambda: stored)
    task.cancel()
    pending.close()
    assert stored == ["unknown device 2"]
    notes = list((tmp_path / "pending" / "unreadable").glob("*.reason.txt"))
    assert len(notes) == 1
    assert "DataError: value refused" in notes[0].read_text()
    assert metrics.QUARANTINE_DROPPED.labels("refused")._value.get() == dropped + 1


async def test_an_unreadable_pending_file_is_set_aside(tmp_path: Path) -> None:
    folder = tmp_path / "pending"
    spool = Spool(folder, max_bytes=1 << 20, suffix=".jsonl")
    spool.append(b'{"batch": "x", "records": 2}\n{"topic": 1}')
    spool.close()
    stored: list[str] = []
    pending = PendingQuarantine(folder, lambda s, b, rs: bool(stored.extend(b for _ in rs)) or True,
                                max_bytes=1 << 20)
    task = asyncio.create_task(pending.run())
    await until(lambda: len(pending) == 0)
    task.cancel()
    pending.close()
    assert stored == []
    [note] = (folder / "unreadable").glob("*.reason.txt")
    assert "cannot be read" in note.read_text()


async def test_a_full_folder_counts_what_it_cannot_keep_and_never_waits(tmp_path: Path) -> None:
    def down(source: str, batch: str, rejections: list[Rejection]) -> bool:
        raise ConnectionError("database is down")

    dropped = metrics.QUARANTINE_DROPPED.labels("pending_full")._value.get()
    pending = PendingQuarantine(tmp_path / "pending", down, max_bytes=2000)
    for i in range(20):
        await asyncio.wait_for(pending.add([rejection(i, "x" * 200)]), timeout=5)
    assert sum(p.stat().st_size for p in (tmp_path / "pending").glob("*.jsonl")) <= 2000
    assert metrics.QUARANTINE_DROPPED.labels("pending_full")._value.get() > dropped
    pending.close()


async def test_retention_and_cap_are_applied_when_the_drain_is_idle(tmp_path: Path) -> None:
    calls: list[int] = []
    pending = PendingQuarantine(tmp_path / "pending", lambda s, b, rs: True, max_bytes=1 << 20,
                                maintain=lambda: calls.append(1), maintain_every=0.05)
    task = asyncio.create_task(pending.run())
    await until(lambda: len(calls) >= 2)
    task.cancel()
    pending.close()
    assert len(calls) >= 2
