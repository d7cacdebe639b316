"""A durable on-disk queue of line-protocol batches, for when InfluxDB cannot take them.

One file per batch, named by a sequence number (``000000000042.lp``). A batch is written to a ``.tmp``
file, fsynced, renamed into place and the folder fsynced, so after a crash (even a ``kill -9`` or a power cut)
every ``.lp`` file is whole and the folder listing *is* the index: the oldest file is the next to replay.
One process owns the folder at a time: it holds an exclusive ``flock`` on ``.lock`` in it; a second process
is refused with :class:`SpoolInUse`.
A file is deleted only after InfluxDB has acknowledged its lines.

Why not a library: the queue libraries available for Python either keep items in SQLite (a second copy of
every byte plus a transaction per batch) or pickle them; line protocol is already the write format, so a file
per batch can be replayed with one read and no decoding, and a person can inspect it with ``less``.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import IO

from stadtpuls.errors import StadtpulsError

log = logging.getLogger(__name__)

SUFFIX = ".lp"
LOCK = ".lock"  # held (flock) by the one process using the folder
ASIDE = "unreadable"  # sub-folder for batch files that cannot be read, each with a note of why


class SpoolFull(Exception):
    """The spool has reached its size cap; the caller must stop acknowledging until it shrinks."""


class SpoolInUse(StadtpulsError):
    """Another process holds the spool folder: two processes must never share one."""


def _lock(folder: Path) -> IO[bytes]:
    """Take the folder's lock file (``flock``, released when the process ends, even by ``kill -9``)."""
    handle = (folder / LOCK).open("a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read(64).decode(errors="replace").strip() or "unknown"
        handle.close()
        raise SpoolInUse(
            f"spool folder {folder} is in use by another ingest process (pid {holder}); every process needs "
            "its own client id (the spool folder follows it)"
        ) from None
    handle.truncate(0)
    handle.write(str(os.getpid()).encode())
    handle.flush()
    return handle


class Spool:
    """An append-only folder of batches with a size cap.

    Args:
        folder: where the batch files live (created if missing).
        max_bytes: the cap; :meth:`append` raises :class:`SpoolFull` beyond it.
        suffix: the batch files' suffix (``.lp``: line protocol).
    """

    def __init__(self, folder: Path, *, max_bytes: int, suffix: str = SUFFIX) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self.suffix = suffix
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(folder)
        for stale in folder.glob("*.tmp"):  # a write cut short by a crash: its batch was never acknowledged
            stale.unlink()
        self._entries: list[tuple[int, int]] = sorted(  # (sequence, size) oldest first
            (int(p.stem), p.stat().st_size) for p in folder.glob(f"*{suffix}") if p.stem.isdigit()
        )
        self.bytes = sum(size for _, size in self._entries)
        self._next = self._entries[-1][0] + 1 if self._entries else 1
        if self._entries:
            log.info("spool holds %d batches (%d bytes) from an earlier run", len(self._entries), self.bytes)

    def close(self) -> None:
        """Release the folder's lock (another process may take the spool now)."""
        if not self._lock.closed:
            self._lock.close()

    def __del__(self) -> None:
        lock = getattr(self, "_lock", None)
        if lock is not None and not lock.closed:
            lock.close()

    def __len__(self) -> int:
        return len(self._entries)

    def _path(self, seq: int) -> Path:
        return self.folder / f"{seq:012d}{self.suffix}"

    def append(self, body: bytes) -> int:
        """Store one batch durably; returns its sequence number.

        Raises:
            SpoolFull: storing it would exceed ``max_bytes``.
        """
        if self.bytes + len(body) > self.max_bytes and self._entries:
            raise SpoolFull(f"spool {self.folder} holds {self.bytes} bytes, its cap is {self.max_bytes}")
        seq = self._next
        self._next += 1
        path = self._path(seq)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.rename(path)
        self._sync_folder()
        self._entries.append((seq, len(body)))
        self.bytes += len(body)
        return seq

    def oldest_seq(self) -> int | None:
        """The sequence number of the oldest batch, or None when the spool is empty."""
        return self._entries[0][0] if self._entries else None

    def oldest(self) -> tuple[int, bytes] | None:
        """The oldest batch (sequence, body), or None when the spool is empty."""
        if not self._entries:
            return None
        seq = self._entries[0][0]
        return seq, self._path(seq).read_bytes()

    def set_aside(self, seq: int, reason: str) -> Path:
        """Move the batch ``seq`` (the oldest) out of the queue into ``unreadable/``, with a note of ``reason``.

        Returns:
            Where the file is now.
        """
        if not self._entries or self._entries[0][0] != seq:
            raise ValueError(f"spool batch {seq} is not the oldest; batches leave in order")
        aside = self.folder / ASIDE
        aside.mkdir(exist_ok=True)
        path = self._path(seq)
        target = aside / path.name
        path.rename(target)
        (aside / f"{path.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        _, size = self._entries.pop(0)
        self._sync_folder()
        self.bytes -= size
        return target

    def remove(self, seq: int) -> None:
        """Forget the batch ``seq`` (the oldest) once it is stored elsewhere."""
        if not self._entries or self._entries[0][0] != seq:
            raise ValueError(f"spool batch {seq} is not the oldest; batches leave in order")
        _, size = self._entries.pop(0)
        self._path(seq).unlink(missing_ok=True)
        self._sync_folder()
        self.bytes -= size

    def _sync_folder(self) -> None:
        fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
