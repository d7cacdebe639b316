"""Publishing to MQTT: a batched MQTT 3.1.1 QoS 0 writer for speed, and gmqtt for QoS 1.

At QoS 0 a PUBLISH is fire-and-forget, so the fast path builds the packets itself and hands the socket many
of them in one write; a client library that writes every message separately spends most of its time in
system calls (docs/benchmarks.md, simulator live rate). These are the only MQTT packets Stadtpuls writes by
hand: CONNECT, QoS 0 PUBLISH, PINGREQ and DISCONNECT. QoS 1 needs acknowledgements, retries and an in-flight
window: that is gmqtt's job.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
from typing import Protocol

import gmqtt

from stadtpuls.settings import MqttTarget

KEEPALIVE = 60  # s
FLUSH_BYTES = 256 * 1024  # write to the socket at least this often
PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"
CONNACK_REFUSALS = {
    1: "unacceptable protocol",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def utf8_string(text: str) -> bytes:
    """An MQTT UTF-8 string: 2-byte big-endian length, then the bytes."""
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(target: MqttTarget, client_id: str, *, keepalive: int = KEEPALIVE) -> bytes:
    """An MQTT 3.1.1 CONNECT with a clean session and optional credentials (keepalive in s)."""
    flags = 0x02
    body = utf8_string(client_id)
    if target.username:
        flags |= 0x80
        body += utf8_string(target.username)
        if target.password is not None:
            flags |= 0x40
            body += utf8_string(target.password)
    payload = utf8_string("MQTT") + bytes((4, flags)) + struct.pack("!H", keepalive) + body
    return b"\x10" + remaining_length(len(payload)) + payload


def publish_packet(topic: bytes, payload: bytes) -> bytes:
    """An MQTT PUBLISH at QoS 0, no retain."""
    body_len = 2 + len(topic) + len(payload)
    return b"\x30" + remaining_length(body_len) + struct.pack("!H", len(topic)) + topic + payload


def refusal(code: int) -> str:
    """The text of a CONNACK return code."""
    return CONNACK_REFUSALS.get(code, f"code {code}")


class PublishError(ConnectionError):
    """The broker refused or dropped the connection."""


class MqttPublisher(Protocol):
    """What live mode needs from an MQTT connection."""

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message for the broker."""

    async def flush(self) -> None:
        """Let queued messages go out."""

    async def close(self) -> None:
        """Disconnect from the broker."""


class FastPublisher:
    """QoS 0 publisher over one TCP (or TLS) connection, writing packets in batches."""

    def __init__(self, target: MqttTarget, *, client_id: str) -> None:
        self.target = target
        self.client_id = client_id
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._buffer: list[bytes] = []
        self._size = 0
        self._topics: dict[str, bytes] = {}
        self._watch: asyncio.Task[None] | None = None
        self._ping: asyncio.Task[None] | None = None
        self.error: str = ""

    async def connect(self) -> FastPublisher:
        """Connect and wait for CONNACK.

        Raises:
            PublishError: unreachable, or the broker refuses the connection.
        """
        where = f"{self.target.host}:{self.target.port}"
        try:
            tls = ssl.create_default_context() if self.target.tls else None
            self._reader, self._writer = await asyncio.open_connection(self.target.host, self.target.port, ssl=tls)
            self._writer.write(connect_packet(self.target, self.client_id))
            connack = await asyncio.wait_for(self._reader.readexactly(4), timeout=10)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
            raise PublishError(f"MQTT broker at {where} is unreachable: {exc!r}") from exc
        if connack[0] != 0x20 or connack[3] != 0:
            reason = refusal(connack[3])
            raise PublishError(f"MQTT broker at {where} refused the connection: {reason}")
        self._watch = asyncio.create_task(self._read_loop())
        self._ping = asyncio.create_task(self._ping_loop())
        return self

    async def _read_loop(self) -> None:
        assert self._reader is not None
        try:
            while await self._reader.read(4096):
                pass  # PINGRESP only
            self.error = "the broker closed the connection"
        except (OSError, asyncio.IncompleteReadError) as exc:
            self.error = f"connection lost: {exc!r}"

    async def _ping_loop(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE / 2)
            if self._writer is not None:
                self._writer.write(PINGREQ)

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message; it is written at the next :meth:`flush` (or when the batch is large).

        Raises:
            PublishError: the connection is gone.
        """
        if self.error:
            raise PublishError(self.error)
        encoded = self._topics.get(topic)
        if encoded is None:
            encoded = self._topics[topic] = topic.encode()
        packet = publish_packet(encoded, payload)
        self._buffer.append(packet)
        self._size += len(packet)
        if self._size >= FLUSH_BYTES:
            self._write()

    def _write(self) -> None:
        if self._buffer and self._writer is not None:
            self._writer.write(b"".join(self._buffer))
        self._buffer.clear()
        self._size = 0

    async def flush(self) -> None:
        """Write what is queued and wait until the socket takes it."""
        self._write()
        if self._writer is not None:
            await self._writer.drain()

    async def close(self) -> None:
        """Flush, send DISCONNECT and close."""
        for task in (self._ping, self._watch):
            if task is not None:
                task.cancel()
        if self._writer is None:
            return
        with contextlib.suppress(OSError, ConnectionError):
            self._write()
            self._writer.write(DISCONNECT)
            await self._writer.drain()
        self._writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await self._writer.wait_closed()


class GmqttPublisher:
    """QoS 1 (or 0) publisher on gmqtt, which keeps the in-flight window and retries."""

    def __init__(self, target: MqttTarget, *, client_id: str, qos: int) -> None:
        self.target = target
        self.qos = qos
        self.client = gmqtt.Client(client_id)
        if target.username:
            self.client.set_auth_credentials(target.username, target.password)

    async def connect(self) -> GmqttPublisher:
        """Connect (MQTT 3.1.1).

        Raises:
            PublishError: unreachable or refused.
        """
        try:
            await self.client.connect(self.target.host, self.target.port, ssl=self.target.tls, keepalive=KEEPALIVE,
                                      version=4)
        except Exception as exc:  # gmqtt raises plain exceptions of several kinds
            raise PublishError(f"MQTT broker at {self.target.host}:{self.target.port}: {exc!r}") from exc
        return self

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue one message for the broker at the configured QoS."""
        self.client.publish(topic, payload, qos=self.qos)

    async def flush(self) -> None:
        """Let queued messages go out."""
        await asyncio.sleep(0)

    async def close(self) -> None:
        """Wait (up to 30 s) for unacknowledged QoS 1 messages, then disconnect."""
        storage = getattr(self.client, "_persistent_storage", None)
        for _ in range(3000):
            if storage is None or storage.is_empty:
                break
            await asyncio.sleep(0.01)
        await self.client.disconnect()


async def open_publisher(target: MqttTarget, *, client_id: str, qos: int) -> MqttPublisher:
    """A connected publisher: the batched writer for QoS 0, gmqtt for QoS 1.

    Raises:
        PublishError: the broker is unreachable or refuses the connection.
        ValueError: qos is not 0 or 1.
    """
    if qos not in (0, 1):
        raise ValueError(f"qos must be 0 or 1, got {qos}")
    if qos == 0:
        return await FastPublisher(target, client_id=client_id).connect()
    return await GmqttPublisher(target, client_id=client_id, qos=qos).connect()
