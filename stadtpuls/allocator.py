"""Keep a long-running process's memory flat under glibc's malloc.

glibc serves a large request (128 KiB and up by default) with its own ``mmap`` and gives it back to the
system when freed, but it then raises that threshold to the freed block's size ("dynamic mmap threshold").
From then on, blocks of that size (the tables of a big dict or set being rebuilt, a large request body) come
from the heap instead, where each rebuild lands next to the holes of the last one: the heap, and with it the
process's RSS, grows in steps although the memory in use stays the same. Ingest's deduplication memory is such
a table, rebuilt every minute or so at high rates.

:func:`pin_mmap_threshold` fixes the threshold (``mallopt(M_MMAP_THRESHOLD)``), which also switches the
dynamic adjustment off: large blocks keep going to ``mmap`` and return to the system when freed. It does
nothing where there is no glibc, and leaves the setting alone when the operator has chosen one through glibc's
own ``MALLOC_MMAP_THRESHOLD_`` environment variable. No library does this (it is one libc call).
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # glibc <malloc.h>
DEFAULT_THRESHOLD = 256 * 1024  # bytes: blocks this large and larger are mapped, and unmapped when freed
ENV_OVERRIDE = "MALLOC_MMAP_THRESHOLD_"


def pin_mmap_threshold(threshold: int = DEFAULT_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; returns whether this process's malloc took it."""
    if not sys.platform.startswith("linux") or ENV_OVERRIDE in os.environ:
        return False
    try:
        libc = ctypes.CDLL(None)  # the symbols already loaded into this process, libc among them
    except OSError:  # pragma: no cover - a process without a dynamic libc
        return False
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None or not hasattr(libc, "gnu_get_libc_version"):  # not glibc (musl's mallopt does nothing)
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    taken = bool(mallopt(M_MMAP_THRESHOLD, threshold))
    if not taken:
        log.warning("glibc refused mmap threshold %d; memory may grow in steps", threshold)
    return taken
