"""The ingest service: subscribe to uplinks, run each through the pipeline, write batches, then acknowledge.

MQTT is spoken by gmqtt (asyncio, MQTT 5): of the Python clients measured on this platform's target machine it
receives the most messages per CPU second, and with ``optimistic_acknowledgement=False`` it acknowledges a
QoS 1 message only when our handler returns, which we let happen after the message is durably stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import ssl
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import gmqtt

from devices.registry import DeviceRegistry
from ingest import metrics
from ingest.directory import DeviceDirectory
from ingest.pipeline import Pipeline
from ingest.quarantine import QuarantineStore, Rejection
from ingest.writer import BatchWriter
from stadtpuls.influx import InfluxClient, InfluxUnavailable
from stadtpuls.settings import Settings

log = logging.getLogger(__name__)

UPLINK_TOPICS = ("v3/+/devices/+/up", "application/+/device/+/event/up")
DEDUP_WINDOW = 200_000  # uplink ids remembered to drop retransmissions and gateway duplicates


class IngestError(RuntimeError):
    """Ingest cannot start: a dependency is unreachable or misconfigured. The text names which."""


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How one ingest process subscribes."""

    client_id: str
    qos: int = 1
    share_group: str = ""
    session_expiry: int = 7 * 24 * 3600  # s the broker keeps our session (and queued messages) while we are away


def subscription_topics(share_group: str) -> list[str]:
    """The uplink topics, as a shared subscription when ``share_group`` is set."""
    return [f"$share/{share_group}/{t}" if share_group else t for t in UPLINK_TOPICS]


class _Dedup:
    """Bounded memory of uplink ids; a repeat waits for (or reuses) the first copy's outcome."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: OrderedDict[str, asyncio.Future[None]] = OrderedDict()

    def check(self, key: str, fut_factory: Any = None) -> asyncio.Future[None] | None:
        fut = self._seen.get(key)
        if fut is not None:
            self._seen.move_to_end(key)
        return fut

    def remember(self, key: str, fut: asyncio.Future[None]) -> None:
        self._seen[key] = fut
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)


class IngestService:
    """One ingest process: MQTT in, InfluxDB and quarantine out."""

    def __init__(self, settings: Settings, options: IngestOptions) -> None:
        self.settings = settings
        self.options = options
        self.registry = DeviceRegistry(settings.registry_url)
        self.quarantine = QuarantineStore(settings.registry_url)
        self.directory = DeviceDirectory(self.registry)
        self.pipeline = Pipeline(self.directory.get)
        self.influx = InfluxClient(
            settings.influx_url,
            settings.influx_db,
            username=settings.influx_username,
            password=settings.influx_password,
        )
        self.writer = BatchWriter(
            self.influx,
            self._store_rejections,
            batch_size=settings.batch_size,
            batch_interval=settings.batch_interval,
        )
        self._dedup = _Dedup(DEDUP_WINDOW)
        self._stop = asyncio.Event()
        self._connected = asyncio.Event()
        self._client: gmqtt.Client | None = None
        self.received = 0

    async def _store_rejections(self, rejections: list[Rejection]) -> None:
        for r in rejections:
            log.info("quarantined (%s) %s: %s", r.stage, r.topic, r.reason)
        await asyncio.to_thread(self.quarantine.add_many, rejections)

    async def _on_message(self, client: gmqtt.Client, topic: str, payload: bytes, qos: int, properties: Any) -> int:
        self.received += 1
        metrics.PENDING.inc()
        try:
            await self.handle(topic, payload, wait=qos > 0)
        finally:
            metrics.PENDING.dec()
        return 0  # PUBACK "success": sent only now, after the message is stored

    async def handle(self, topic: str, payload: bytes, *, wait: bool = True) -> None:
        """Run one message through the pipeline and hand it to the writer; wait until it is stored."""
        outcome = self.pipeline.process(topic, payload, arrival_ns=time.time_ns())
        uplink = outcome.uplink
        source = uplink.source.value if uplink else "unknown"
        metrics.MESSAGES.labels(source, outcome.model or "unknown").inc()
        if uplink is not None:
            first = self._dedup.check(uplink.dedup_key)
            if first is not None:
                metrics.DUPLICATES.inc()
                if wait:
                    await asyncio.shield(first)
                return
        if outcome.lines and outcome.rejection is None:
            metrics.DECODED.labels(outcome.model).inc()
        done = await self.writer.submit(outcome.lines, outcome.rejection, topic, payload)
        if uplink is not None:
            self._dedup.remember(uplink.dedup_key, done)
        if wait:
            await asyncio.shield(done)

    async def _check_influx(self) -> None:
        try:
            version = await self.influx.ping()
            await self.influx.create_database()
        except InfluxUnavailable as exc:
            raise IngestError(f"InfluxDB is unreachable at {self.settings.influx_url}: {exc}") from exc
        log.info("InfluxDB %s at %s, database %r", version, self.settings.influx_url, self.settings.influx_db)

    def _make_client(self) -> gmqtt.Client:
        client = gmqtt.Client(
            self.options.client_id,
            clean_session=False,
            optimistic_acknowledgement=False,
            session_expiry_interval=self.options.session_expiry,
            receive_maximum=65535,
        )
        target = self.settings.mqtt
        if target.username:
            client.set_auth_credentials(target.username, target.password)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(self, client: gmqtt.Client, flags: Any, rc: Any, properties: Any) -> None:
        for topic in subscription_topics(self.options.share_group):
            client.subscribe(topic, qos=self.options.qos)
        log.info("connected to MQTT %s:%s, subscribed (QoS %d)", self.settings.mqtt.host, self.settings.mqtt.port, self.options.qos)
        self._connected.set()

    def _on_disconnect(self, client: gmqtt.Client, packet: Any, exc: Any = None) -> None:
        self._connected.clear()
        log.warning("disconnected from MQTT broker; reconnecting")

    async def _connect_mqtt(self) -> gmqtt.Client:
        client = self._make_client()
        target = self.settings.mqtt
        client.set_config({"reconnect_retries": gmqtt.constants.UNLIMITED_RECONNECTS, "reconnect_delay": 2})
        tls: ssl.SSLContext | bool = ssl.create_default_context() if target.tls else False
        try:
            await client.connect(target.host, target.port, ssl=tls, keepalive=30)
        except (OSError, gmqtt.mqtt.handler.MQTTConnectError) as exc:
            raise IngestError(f"MQTT broker is unreachable at {target.host}:{target.port}: {exc}") from exc
        return client

    async def run(self, *, ready: asyncio.Event | None = None) -> None:
        """Run until :meth:`stop` (or SIGTERM/SIGINT when installed)."""
        await self._check_influx()
        await asyncio.to_thread(self.directory.load)
        log.info("%d devices registered", len(self.directory))
        writer_task = asyncio.create_task(self.writer.run())
        changes: asyncio.Queue[set[str]] = asyncio.Queue()
        refresher = asyncio.create_task(self.directory.keep_fresh(changes))
        forgetter = asyncio.create_task(self._forget_changed(changes))
        self._client = await self._connect_mqtt()
        await asyncio.wait_for(self._connected.wait(), timeout=30)
        if ready is not None:
            ready.set()
        await self._stop.wait()
        await self._shutdown(writer_task, refresher, forgetter)

    async def _forget_changed(self, changes: asyncio.Queue[set[str]]) -> None:
        while True:
            for eui in await changes.get():
                self.pipeline.forget(eui)

    async def _shutdown(self, writer_task: asyncio.Task[None], *helpers: asyncio.Task[None]) -> None:
        log.info("stopping: flushing open batches")
        await self.writer.close()
        await writer_task
        await asyncio.sleep(0)  # let handlers whose batches just finished send their PUBACKs
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.disconnect()
        for task in helpers:
            task.cancel()
        await self.influx.close()

    def stop(self) -> None:
        """Ask the service to flush and stop."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Flush and stop on SIGTERM and SIGINT."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)


def default_client_id(base: str, worker: int | None = None) -> str:
    """A stable client id (persistent sessions need one); workers get ``-wN``."""
    return f"{base}-w{worker}" if worker is not None else base or f"stadtpuls-ingest-{uuid.uuid4().hex[:8]}"
