"""Quarantine records waiting on local disk for the registry database: valid data never waits for quarantine.

The live service does not write rejections to the database while it stores a batch. It writes them to a
folder beside the spool, ``STADTPULS_DATA_DIR/quarantine-pending/<client id>/``, one fsynced file per batch
(the :class:`ingest.spool.Spool` format: written whole to a temporary file, flushed, renamed into place), and
goes on: the batch's acknowledgements are released as soon as its lines are stored and its rejections are in
that file. :class:`PendingQuarantine` then moves the files into the database in the background, oldest
first, retrying with backoff (:func:`ingest.retry.retry`) while the database is down or restarting.

- **Exactly once.** Each file carries a batch id; the database stores the file's rows and marks the batch as
  the folder's latest in one transaction (:meth:`ingest.quarantine.QuarantineStore.store_pending`), so a
  file stored just before a crash, or whose commit lost its connection, is not stored a second time.
- **Refused records.** Text the database cannot hold is escaped before it is stored; a file the database still
  refuses for its content, or one that cannot be read, is moved to ``unreadable/`` with the reason, counted
  (``stadtpuls_ingest_quarantine_dropped_total{why="refused"}``) and logged, never retried forever.
- **Bounded.** The folder has a cap (``STADTPULS_QUARANTINE_PENDING_MAX_MB``). When it is full, further
  rejections are counted (``why="pending_full"``) and logged (rate-limited), not kept: valid data goes on.
- **Kept small.** Now and then (and when the drain has nothing to do for a while) the drain applies the
  quarantine's retention and row cap (:meth:`~ingest.quarantine.QuarantineStore.enforce_limits`).

The file format is JSON lines: a header ``{"batch": id, "records": n}``, then one object per rejection with
its topic, payload (base64), arrival time, stage, reason, DevEUI and municipality.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ingest import metrics
from ingest.guard import RateLimitedLog
from ingest.records import Message, Rejection
from ingest.retry import MAX_DELAY, retry
from ingest.spool import Spool, SpoolFull

log = logging.getLogger(__name__)
T = TypeVar("T")

SUFFIX = ".jsonl"
SOURCE_ID = ".source"  # the folder's id (the database's mark of the latest batch stored from it)
MAINTAIN_EVERY = 600.0  # s between two applications of the quarantine's retention and cap, at most

StorePending = Callable[[str, str, list[Rejection]], bool]  # (source, batch, records) → stored now; in a thread
Maintain = Callable[[], None]  # applies retention and cap; in a thread


class QuarantineRefused(Exception):
    """The database refused a quarantine record for what it contains (not because it is unavailable)."""


class PendingFileError(ValueError):
    """A pending file that cannot be decoded."""


def encode_batch(batch: str, rejections: list[Rejection]) -> bytes:
    """One pending file: a header line, then one JSON line per rejection."""
    lines = [json.dumps({"batch": batch, "records": len(rejections)})]
    for r in rejections:
        m = r.message
        lines.append(json.dumps({
            "topic": m.topic, "payload": base64.b64encode(m.payload).decode(), "arrival_ns": m.arrival_ns,
            "stage": r.stage, "reason": r.reason, "dev_eui": r.dev_eui, "municipality": r.municipality,
        }))
    return "\n".join(lines).encode()


def decode_batch(body: bytes) -> tuple[str, list[Rejection]]:
    """The batch id and the rejections of one pending file.

    Raises:
        PendingFileError: the file is not a whole pending batch.
    """
    try:
        header, *rows = body.decode().split("\n")
        head = json.loads(header)
        batch = str(head["batch"])
        rejections = []
        for text in rows:
            row = json.loads(text)
            message = Message(str(row["topic"]), base64.b64decode(row["payload"]), int(row["arrival_ns"]))
            rejections.append(Rejection(message, str(row["stage"]), str(row["reason"]), row["dev_eui"],
                                        row["municipality"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise PendingFileError(f"not a pending quarantine batch: {type(exc).__name__}: {exc}") from exc
    if len(rejections) != head.get("records"):
        raise PendingFileError(f"batch {batch} announces {head.get('records')} records and holds {len(rejections)}")
    return batch, rejections


def source_id(folder: Path) -> str:
    """The folder's id, made once and kept in the folder."""
    path = folder / SOURCE_ID
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if len(text) == 32 and text.isalnum():
        return text
    text = uuid.uuid4().hex
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text, encoding="ascii")
    tmp.rename(path)
    return text


class PendingQuarantine:
    """Keeps rejections in a local folder and moves them into the database (see the module docstring).

    Args:
        folder: the pending folder (created if missing; locked like a spool folder).
        store: stores one batch in the database exactly once (run in a thread).
        max_bytes: the folder's cap.
        maintain: applies the quarantine's retention and cap (run in a thread), at most every ``maintain_every``
            seconds.
        max_backoff: seconds between two attempts to reach the database, at most.
    """

    def __init__(
        self,
        folder: Path,
        store: StorePending,
        *,
        max_bytes: int,
        maintain: Maintain | None = None,
        maintain_every: float = MAINTAIN_EVERY,
        max_backoff: float = MAX_DELAY,
    ) -> None:
        self._files = Spool(folder, max_bytes=max_bytes, suffix=SUFFIX)
        self._lock = threading.Lock()  # the writer adds and the drain removes, each from a worker thread
        self.folder = folder
        self.source = source_id(folder)
        self._store = store
        self._maintain = maintain
        self._maintain_every = maintain_every
        self._maintained = -maintain_every
        self._max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._full_log = RateLimitedLog(log, burst=3)
        if len(self._files):
            log.info("%d batches of quarantine records wait in %s from an earlier run", len(self._files), folder)
            self._wake.set()
        metrics.QUARANTINE_PENDING.set(len(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def close(self) -> None:
        """Release the folder (what is in it stays, and is stored at the next start)."""
        self._files.close()

    async def add(self, rejections: list[Rejection]) -> None:
        """Keep ``rejections`` durably (fsynced) in the folder; returns once they are on disk.

        When the folder is full they are counted and logged instead. An I/O error (a full disk) propagates: the
        writer dies and the service exits, as with the spool.
        """
        if not rejections:
            return
        body = encode_batch(uuid.uuid4().hex, rejections)
        try:
            await asyncio.to_thread(self._locked, self._files.append, body)
        except SpoolFull as exc:
            metrics.QUARANTINE_DROPPED.labels("pending_full").inc(len(rejections))
            self._full_log.error("quarantine database unavailable and %s; %d rejections not kept", exc,
                                 len(rejections))
            return
        for r in rejections:
            metrics.QUARANTINED.labels(r.stage).inc()
        metrics.QUARANTINE_PENDING.set(len(self._files))
        self._wake.set()

    async def run(self) -> None:
        """Move pending batches into the database forever (cancel to stop; the rest waits for the next start)."""
        await self._maintain_now()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._maintain_every)
            except TimeoutError:
                await self._maintain_now()
                continue
            seq = self._files.oldest_seq()
            if seq is None:
                self._wake.clear()
                await self._maintain_now()
                continue
            await self._store_oldest(seq)
            metrics.QUARANTINE_PENDING.set(len(self._files))

    async def _store_oldest(self, seq: int) -> None:
        try:
            entry = await asyncio.to_thread(self._files.oldest)
            assert entry is not None
            assert entry[0] == seq
            batch, rejections = decode_batch(entry[1])
        except (OSError, PendingFileError) as exc:
            await self._set_aside(seq, f"pending quarantine batch {seq} cannot be read: {exc}", None)
            return
        refused = await retry(
            lambda: asyncio.to_thread(self._attempt, batch, rejections),
            retry_on=(Exception,),  # the database is down, restarting or locked: the records wait on disk
            what="quarantine store (records wait in the pending folder)",
            max_delay=self._max_backoff,
            on_retry=lambda exc: metrics.QUARANTINE_STORE_FAILURES.inc(),
        )
        if refused is not None:
            await self._set_aside(seq, f"the database refused pending quarantine batch {batch}: {refused}",
                                  len(rejections))
            return
        for r in rejections:
            log.info("quarantined (%s) %s: %s", r.stage, r.message.topic[:200], r.reason[:500])
        await asyncio.to_thread(self._locked, self._files.remove, seq)

    def _locked(self, action: Callable[..., T], *args: object) -> T:
        with self._lock:
            return action(*args)

    def _attempt(self, batch: str, rejections: list[Rejection]) -> str | None:
        """Store one batch; returns why the database refused it for its content, or None."""
        try:
            if not self._store(self.source, batch, rejections):
                log.info("pending quarantine batch %s was stored before; not storing it again", batch)
        except QuarantineRefused as exc:
            return str(exc)
        return None

    async def _set_aside(self, seq: int, reason: str, records: int | None) -> None:
        where = await asyncio.to_thread(self._locked, self._files.set_aside, seq, reason)
        metrics.QUARANTINE_DROPPED.labels("refused").inc(records or 1)
        log.error("%s; moved to %s", reason, where)

    async def _maintain_now(self) -> None:
        if self._maintain is None or time.monotonic() - self._maintained < self._maintain_every:
            return
        self._maintained = time.monotonic()
        try:
            await asyncio.to_thread(self._maintain)
        except Exception as exc:  # noqa: BLE001 - the database may be away; the next round tries again
            log.warning("quarantine retention and cap not applied now: %s", exc)
