"""The ingest service: subscribe to uplinks, run each through the pipeline, store batches, then acknowledge.

Delivery: QoS 1 on a persistent session (fixed client id, clean start off, a session expiry), so the broker
keeps what arrives while ingest is away. A message is acknowledged (PUBACK) only after its batch and every
earlier batch are stored: in InfluxDB, or in the on-disk spool when InfluxDB is unreachable, and its rejection
(if any) in the local quarantine folder (:mod:`ingest.pending`), from which a background task moves it into
the registry database.
A ``kill -9`` therefore loses nothing: whatever was not acknowledged is delivered again, and writing the
same uplink again produces the same point. Duplicates (gateway copies, redeliveries) are recognised by the
uplink's deduplication key and stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import gmqtt

from devices.registry import DeviceRegistry
from ingest import metrics
from ingest.batcher import Batcher
from ingest.codecpool import CodecPool
from ingest.dedup import DEDUP_WINDOW, RecentKeys
from ingest.directory import DeviceDirectory
from ingest.drain import SpoolDrain
from ingest.pending import PendingQuarantine
from ingest.pipeline import Pipeline
from ingest.quarantine import QuarantineStore
from ingest.receiver import BulkAckClient
from ingest.records import AckToken, Message, Outcome
from ingest.spool import Spool, SpoolInUse
from ingest.store import BatchStore, Quarantine
from stadtpuls.errors import StadtpulsError, UnavailableError
from stadtpuls.influx import InfluxClient, InfluxUnavailable
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)

UPLINK_TOPICS = ("v3/+/devices/+/up", "application/+/device/+/event/up")
SPOOL_MAX_BYTES = 2 * 1024**3  # default cap of the on-disk spool
RECEIVE_MAXIMUM = 20_000  # unacknowledged QoS 1 messages the broker may send us (MQTT 5 flow control)
HEARTBEAT = 1.0  # s between two beats of the event loop (liveness)
LIVENESS_STALL = 30.0  # s without a beat: the event loop is stuck, ingest is not alive
SPOOL_NEARLY_FULL = 0.9  # share of the spool's cap above which ingest is not ready (acknowledgements will wait)


class IngestError(UnavailableError):
    """Ingest cannot start: a dependency is unreachable or misconfigured. The text names which."""


class IngestFailed(StadtpulsError):
    """A background task of ingest died (a full disk, an I/O error): the process must exit and be restarted."""

    exit_code = 70  # EX_SOFTWARE


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How one ingest process subscribes and buffers."""

    client_id: str
    qos: int = 1
    share_group: str = ""
    session_expiry: int = 7 * 24 * 3600  # s the broker keeps our session (and queued messages) while we are away
    spool_max_bytes: int = SPOOL_MAX_BYTES
    receive_maximum: int = RECEIVE_MAXIMUM
    linger: float = 0.02  # s an idle writer waits for more messages before writing a batch


def subscription_topics(share_group: str) -> list[str]:
    """The uplink topics, as a shared subscription when ``share_group`` is set."""
    return [f"$share/{share_group}/{t}" if share_group else t for t in UPLINK_TOPICS]


class IngestService:
    """One ingest process: MQTT in, InfluxDB (or spool) and quarantine out."""

    def __init__(self, settings: Settings, options: IngestOptions) -> None:
        self.settings = settings
        self.options = options
        self.registry = DeviceRegistry(settings.registry_url)
        self.quarantine = QuarantineStore(settings.registry_url)
        self.directory = DeviceDirectory(self.registry)
        self.pipeline = Pipeline(
            self.directory.get,
            dedup=RecentKeys(DEDUP_WINDOW),
            max_payload=settings.ingest.max_payload_bytes,
            future_window=settings.ingest.future_window,
            defer_js=settings.ingest.js_codec_workers > 0,
            keep_raw_payload=settings.ingest.keep_raw_payload,
        )
        self.influx = InfluxClient.from_settings(settings.influx)
        self.spool_dir = settings.data_dir / "spool" / _safe_name(options.client_id)
        self.pending_dir = settings.data_dir / "quarantine-pending" / _safe_name(options.client_id)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._client: BulkAckClient | None = None
        self._batcher: Batcher | None = None
        self._codecs = CodecPool(
            self._decoded, workers=settings.ingest.js_codec_workers, backlog=settings.ingest.js_codec_backlog
        )
        self._pending = 0
        self._spool: Spool | None = None
        self._watched: list[asyncio.Task[None]] = []
        self._beat: float | None = None  # time.monotonic() of the event loop's last heartbeat
        self.received = 0
        self.duplicates = 0
        self._duplicates_reported = 0

    # --- the hot path ---------------------------------------------------------------------------------------
    def _on_message(self, message: Message) -> None:
        batcher = self._batcher
        if batcher is None:  # not ready: leave it unacknowledged, the broker delivers it again
            return
        self.received += 1
        if message.ack is not None:
            self._pending += 1
        outcome = self.pipeline.handle(message)
        uplink = outcome.uplink
        self._counts[(uplink.source.value if uplink else "unknown", outcome.model or "unknown")] += 1
        if outcome.duplicate:  # stored (or about to be) with an earlier batch; acknowledged after it
            self.duplicates += 1
        if (outcome.deferred is not None or self._codecs.held) and self._codecs.take(outcome):
            return  # decoded by a JavaScript codec's worker, or waiting behind its original there
        batcher.add(outcome)

    def _decoded(self, outcome: Outcome) -> None:
        """An outcome whose JavaScript codec answered (or a duplicate that waited behind it) goes on."""
        assert self._batcher is not None
        self._batcher.add(outcome)

    def _on_stored(self, acks: list[AckToken]) -> None:
        self._pending -= len(acks)
        sent = self._client.ack(acks) if self._client is not None else 0
        if sent < len(acks):
            metrics.STALE_ACKS.inc(len(acks) - sent)
        self._flush_counts()

    def _flush_counts(self) -> None:
        counts, self._counts = self._counts, Counter()
        for (source, model), n in counts.items():
            metrics.MESSAGES.labels(source, model).inc(n)
        if self.duplicates > self._duplicates_reported:
            metrics.DUPLICATES.inc(self.duplicates - self._duplicates_reported)
            self._duplicates_reported = self.duplicates
        metrics.PENDING.set(max(self._pending, 0))

    def _on_pressure(self, paused: bool) -> None:
        if self._client is None:
            return
        if paused:
            self._client.pause()
        else:
            self._client.resume()

    def _maintain_quarantine(self) -> None:
        limits = self.settings.quarantine
        expired, capped = self.quarantine.enforce_limits(
            retention_days=limits.retention_days, max_rows=limits.max_rows
        )
        for why, removed, setting in (("retention", expired, "RETENTION_DAYS"), ("cap", capped, "MAX_ROWS")):
            if removed.rows:
                metrics.QUARANTINE_DROPPED.labels(why).inc(removed.messages)
                log.warning("quarantine: deleted %d rows (%d messages) beyond STADTPULS_QUARANTINE_%s",
                            removed.rows, removed.messages, setting)

    # --- connecting -----------------------------------------------------------------------------------------
    async def _check_influx(self) -> None:
        """InfluxDB answers and the database is there (created only when missing; see ``create_database``).

        Raises:
            IngestError: InfluxDB is unreachable.
            stadtpuls.influx.InfluxAccessError: the account is refused, or may not create a missing database.
        """
        try:
            version = await self.influx.ping()
            await self.influx.create_database()
        except InfluxUnavailable as exc:
            await self.influx.close()
            raise IngestError(f"InfluxDB is unreachable at {self.settings.influx.url}: {exc}") from exc
        except StadtpulsError:
            await self.influx.close()
            raise
        log.info("InfluxDB %s at %s, database %r", version, self.settings.influx.url, self.settings.influx.db)

    def _make_client(self) -> BulkAckClient:
        client = BulkAckClient(
            self.options.client_id,
            self._on_message,
            clean_session=False,
            session_expiry_interval=self.options.session_expiry,
            receive_maximum=self.options.receive_maximum,
        )
        target = self.settings.mqtt.target
        if target.username:
            client.set_auth_credentials(target.username, target.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: BulkAckClient, flags: Any, rc: Any, properties: Any) -> None:
        client.gate_reads()
        for topic in subscription_topics(self.options.share_group):
            client.subscribe(topic, qos=self.options.qos)
        mqtt = self.settings.mqtt.target
        log.info("connected to MQTT %s:%s as %s, subscribed (QoS %d)", mqtt.host, mqtt.port,
                 self.options.client_id, self.options.qos)
        self._connected.set()

    def _on_disconnect(self, client: BulkAckClient, packet: Any, exc: Any = None) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("disconnected from MQTT broker; reconnecting")

    async def _connect_mqtt(self, client: BulkAckClient) -> None:
        target = self.settings.mqtt.target
        client.set_config({"reconnect_retries": gmqtt.constants.UNLIMITED_RECONNECTS, "reconnect_delay": 1})
        tls: ssl.SSLContext | bool = ssl.create_default_context() if target.tls else False
        try:
            await client.connect(target.host, target.port, ssl=tls, keepalive=30)
        except (OSError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
            raise IngestError(f"MQTT broker is unreachable at {target.host}:{target.port}: {exc}") from exc

    # --- running --------------------------------------------------------------------------------------------
    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT when installed).

        Raises:
            IngestError: a dependency is unreachable at start, or the spool folder is taken by another process.
            IngestFailed: a background task (the writer, the spool drain) died; nothing more can be stored.
        """
        await self._check_influx()
        await asyncio.to_thread(self.directory.load)
        log.info("%d devices registered", len(self.directory))
        try:
            spool = await asyncio.to_thread(Spool, self.spool_dir, max_bytes=self.options.spool_max_bytes)
        except SpoolInUse as exc:
            raise IngestError(str(exc)) from exc
        self._spool = spool
        try:
            pending = await asyncio.to_thread(
                PendingQuarantine, self.pending_dir, self.quarantine.store_pending,
                max_bytes=self.settings.quarantine.pending_max_mb * 2**20, maintain=self._maintain_quarantine,
            )
        except SpoolInUse as exc:
            spool.close()
            raise IngestError(str(exc)) from exc
        try:
            await self._run(spool, pending, ready)
        finally:
            spool.close()
            pending.close()

    async def _run(self, spool: Spool, pending: PendingQuarantine, ready: asyncio.Event | None) -> None:
        self._client = self._make_client()
        quarantine = Quarantine(pending.add)
        drain = SpoolDrain(self.influx, spool, quarantine)
        self._batcher = Batcher(
            BatchStore(self.influx, spool, quarantine, on_spooled=drain.notify),
            on_stored=self._on_stored,
            on_pressure=self._on_pressure,
            batch_size=self.settings.ingest.batch_size,
            batch_interval=self.settings.ingest.batch_interval,
            linger=self.options.linger,
            max_batch_messages=max(1, self.options.receive_maximum // 2),
            max_writes=self.settings.ingest.batch_writes,
        )
        batcher_task = asyncio.create_task(self._batcher.run(), name="writer")
        changes: asyncio.Queue[set[str]] = asyncio.Queue()
        helpers = [
            asyncio.create_task(drain.run(), name="spool drain"),
            asyncio.create_task(pending.run(), name="quarantine drain"),
            asyncio.create_task(self.directory.keep_fresh(changes), name="device directory"),
            asyncio.create_task(self._forget_changed(changes), name="device cache"),
            asyncio.create_task(self._codecs.run(), name="codec workers"),
            asyncio.create_task(self._heartbeat(), name="heartbeat"),
        ]
        watched = self._watched = [batcher_task, *helpers]
        await self._connect_mqtt(self._client)
        await asyncio.wait_for(self._connected.wait(), timeout=30)
        if ready is not None:
            ready.set()
        stopping = asyncio.create_task(self._stop.wait())
        done, _ = await asyncio.wait([stopping, *watched], return_when=asyncio.FIRST_COMPLETED)
        dead = next((t for t in watched if t in done), None)
        if dead is not None:
            stopping.cancel()
            await self._abort(dead, watched)
        await self._shutdown(batcher_task, helpers)
        drain.report()
        if len(pending):
            log.info("stopping with %d batches of quarantine records in %s; they are stored at the next start",
                     len(pending), pending.folder)

    async def _abort(self, dead: asyncio.Task[None], tasks: list[asyncio.Task[None]]) -> None:
        """A background task ended: stop without acknowledging anything more, then raise why."""
        error = dead.exception() if not dead.cancelled() else None
        name = dead.get_name()
        metrics.TASK_FAILURES.labels(name).inc()
        what = f"{type(error).__name__}: {error}" if error is not None else "it ended unexpectedly"
        log.critical("ingest's %s task died (%s); exiting so that a supervisor restarts it. Messages not yet "
                     "acknowledged stay with the broker.", name, what, exc_info=error)
        if self._client is not None:
            self._client.pause()
            with contextlib.suppress(Exception):
                await self._client.disconnect()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._codecs.close()
        with contextlib.suppress(Exception):
            await self.influx.close()
        raise IngestFailed(f"ingest's {name} task died: {what}") from error

    async def _forget_changed(self, changes: asyncio.Queue[set[str]]) -> None:
        while True:
            for eui in await changes.get():
                self.pipeline.forget(eui)

    async def _shutdown(self, batcher_task: asyncio.Task[None], helpers: list[asyncio.Task[None]]) -> None:
        log.info("stopping: flushing open batches")
        assert self._client is not None
        assert self._batcher is not None
        self._client.pause()  # take nothing new; what is unread stays with the broker
        await self._codecs.close()  # what waits for a JavaScript codec stays unacknowledged: redelivered
        await self._batcher.close()
        await batcher_task  # every closed batch stored and acknowledged
        self._flush_counts()
        with contextlib.suppress(Exception):
            await self._client.disconnect()
        for task in helpers:
            task.cancel()
        await self.influx.close()

    # --- health (called from the metrics server's thread: reads only) ----------------------------------------
    async def _heartbeat(self) -> None:
        while True:
            self._beat = time.monotonic()
            if self.influx.last_write is not None:
                metrics.LAST_WRITE.set(self.influx.last_write)
            await asyncio.sleep(HEARTBEAT)

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Alive unless the event loop has not beaten for ``LIVENESS_STALL`` s or a background task died."""
        if self._beat is None:
            return True, {"status": "starting"}
        silent = time.monotonic() - self._beat
        dead = [t.get_name() for t in self._watched if t.done()]
        alive = silent < LIVENESS_STALL and not dead
        details: dict[str, Any] = {"status": "alive" if alive else "dead", "event_loop_silent_s": round(silent, 1)}
        if dead:
            details["dead_tasks"] = dead
        return alive, details

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when connected to the broker, every task alive, the spool not nearly full and InfluxDB not
        refusing our writes; the answer says which check failed and when InfluxDB last took a write.
        """
        spool = self._spool
        refusal = self.influx.refusal
        dead = [t.get_name() for t in self._watched if t.done()]
        checks = {
            "broker": _check(self._connected.is_set(), "connected" if self._connected.is_set() else "not connected"),
            "tasks": _check(bool(self._watched) and not dead, f"dead: {', '.join(dead)}" if dead else
                            ("running" if self._watched else "starting")),
            "spool": _spool_check(spool),
            "influxdb": _check(refusal is None, "writes accepted" if refusal is None else
                               f"refused with HTTP {refusal.status}: {refusal.message} (operator action needed)"),
        }
        ready = all(c["ok"] for c in checks.values())
        last = self.influx.last_write
        return ready, {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "last_write": datetime.fromtimestamp(last, UTC).isoformat() if last is not None else None,
        }

    def stop(self) -> None:
        """Ask the service to flush and stop."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Flush and stop on SIGTERM and SIGINT."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)


def _check(ok: bool, detail: str) -> dict[str, Any]:
    return {"ok": ok, "detail": detail}


def _spool_check(spool: Spool | None) -> dict[str, Any]:
    if spool is None:
        return _check(False, "not open yet")
    used = spool.bytes / spool.max_bytes if spool.max_bytes else 0.0
    detail = f"{spool.bytes} of {spool.max_bytes} bytes ({used:.0%})"
    if used >= SPOOL_NEARLY_FULL:
        detail += ": nearly full, acknowledgements will wait for InfluxDB"
    return _check(used < SPOOL_NEARLY_FULL, detail)


def _safe_name(client_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in client_id) or "ingest"


def default_client_id(base: str, worker: int | None = None) -> str:
    """A stable client id (persistent sessions need one); workers get ``-wN``."""
    base = base or f"stadtpuls-ingest-{uuid.uuid4().hex[:8]}"
    return f"{base}-w{worker}" if worker is not None else base
