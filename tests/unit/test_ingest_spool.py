"""The on-disk spool: durable, ordered, capped, and whole after a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.spool import Spool, SpoolFull


def test_batches_leave_in_the_order_they_came(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    first, second = spool.append(b"a 1"), spool.append(b"b 2")
    assert spool.oldest() == (first, b"a 1")
    spool.remove(first)
    assert spool.oldest() == (second, b"b 2")
    assert len(spool) == 1
    assert spool.bytes == 3


def test_only_the_oldest_batch_can_be_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(b"a")
    second = spool.append(b"b")
    with pytest.raises(ValueError, match="not the oldest"):
        spool.remove(second)


def test_a_new_spool_finds_the_batches_of_the_last_run_and_drops_half_written_ones(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(b"kept 1")
    spool.append(b"kept 2")
    (tmp_path / "000000000003.tmp").write_bytes(b"cut sho")  # a crash in the middle of a write
    spool.close()  # the process ends
    reopened = Spool(tmp_path, max_bytes=10_000)
    assert len(reopened) == 2
    assert reopened.bytes == 12
    assert not list(tmp_path.glob("*.tmp"))
    assert reopened.append(b"next") == 3


def test_a_full_spool_refuses_more(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10)
    spool.append(b"12345678")
    with pytest.raises(SpoolFull, match="cap is 10"):
        spool.append(b"123")
    assert len(spool) == 1


def test_an_empty_spool_takes_one_oversized_batch(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=4)
    spool.append(b"123456")
    assert len(spool) == 1
