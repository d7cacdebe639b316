"""The glibc mmap threshold that keeps ingest's memory flat (stadtpuls/allocator.py).

Each check runs in a child interpreter, so the test process's own allocator is left as it was.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest

from stadtpuls.allocator import ENV_OVERRIDE, pin_mmap_threshold

GLIBC = sys.platform.startswith("linux") and hasattr(ctypes.CDLL(None), "gnu_get_libc_version")

# Frees a 16 MiB block (which raises glibc's dynamic threshold to 16 MiB), then prints how many more bytes glibc
# holds in mapped blocks while an 8 MiB block, the size of a rebuilt deduplication table, is alive: with the
# threshold pinned the block is mapped (and unmapped when freed); left dynamic, it extends the heap.
CHILD = """
import ctypes, sys
from stadtpuls.allocator import pin_mmap_threshold

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
pinned = pin_mmap_threshold() if sys.argv[1] == "pin" else False
big = bytearray(16 * 2**20)
del big
before = libc.mallinfo2().hblkhd
block = bytearray(8 * 2**20)
print(pinned, libc.mallinfo2().hblkhd - before)
"""


def _child(mode: str, **env: str) -> tuple[bool, int]:
    environment = {k: v for k, v in os.environ.items() if k != ENV_OVERRIDE} | env
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode], capture_output=True, text=True, check=True, env=environment
    ).stdout.split()
    return out[0] == "True", int(out[1])


@pytest.mark.skipif(not GLIBC, reason="needs glibc")
def test_pinned_threshold_maps_large_blocks() -> None:
    pinned, mapped = _child("pin")
    assert pinned
    assert mapped >= 8 * 2**20


@pytest.mark.skipif(not GLIBC, reason="needs glibc")
def test_without_pinning_the_same_block_comes_from_the_heap() -> None:
    pinned, mapped = _child("leave")
    assert not pinned
    assert mapped == 0


@pytest.mark.skipif(not GLIBC, reason="needs glibc")
def test_an_operator_setting_is_left_alone() -> None:
    pinned, mapped = _child("pin", **{ENV_OVERRIDE: str(32 * 2**20)})
    assert not pinned
    assert mapped == 0  # the operator's 32 MiB threshold holds: the 8 MiB block comes from the heap


def test_off_linux_it_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert pin_mmap_threshold() is False
