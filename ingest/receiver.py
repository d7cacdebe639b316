"""The MQTT receive path: gmqtt, with acknowledgements sent in bulk after a batch is stored.

gmqtt is the fastest Python MQTT client measured on the target machine, but its own "acknowledge after
handling" mode runs every message as an asyncio Task and sends one PUBACK per message. Here each QoS 1
message becomes one :class:`ingest.records.Message` whose ack token is a :class:`PendingAck` (the connection
it came on and its packet id; nothing outside this module looks inside it) and is handed to a plain function;
once the message's batch is in InfluxDB or the spool, :meth:`BulkAckClient.ack` gets the tokens back and sends
all their PUBACKs in one socket write. An acknowledgement whose connection has since been lost is
not sent: the broker redelivers that message on the new connection (persistent session) and deduplication
takes care of the copy.

Back-pressure: :meth:`BulkAckClient.pause` stops reading from the socket (the broker then keeps the
messages, and TCP slows it down); at QoS 1 the broker also never sends more than ``receive_maximum``
unacknowledged messages.

The receive fast path: gmqtt turns every packet into a ``Package`` object, logs it at debug level, looks up a
handler, unpacks the PUBLISH with format strings built per message and parses its MQTT 5 properties into a dict,
which costs more than the whole pipeline behind it. :func:`_fast_reader` takes the place of gmqtt's packet
splitter on each connection: it splits the bytes read into packets itself and turns each QoS 0/1 PUBLISH without
properties (what a broker sends to a subscriber that set no topic aliases) straight into a :class:`Message`;
every other packet (CONNACK, SUBACK, PINGRESP, DISCONNECT, a PUBLISH with properties or at QoS 2) takes gmqtt's
own path unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import time
from collections.abc import Callable
from typing import Any

import gmqtt
from gmqtt.mqtt.package import Package

from ingest.records import AckToken, Message

log = logging.getLogger(__name__)

PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")
_PUBLISH = 0x30
_MQTT5 = 5
_TOPIC_CACHE = 16_384  # decoded topics remembered per connection (one per device and event type)


class PendingAck(AckToken):
    """An acknowledgement owed to the broker: a packet id on one connection."""

    __slots__ = ("connection", "mid")

    def __init__(self, connection: object, mid: int) -> None:
        self.connection = connection
        self.mid = mid


Sink = Callable[[Message], None]


class BulkAckClient(gmqtt.Client):  # type: ignore[misc]  # gmqtt ships no type hints
    """A gmqtt client that passes messages to ``sink`` and acknowledges them only when told to."""

    def __init__(self, client_id: str, sink: Sink, **kwargs: Any) -> None:
        super().__init__(client_id, optimistic_acknowledgement=False, **kwargs)
        self._sink = sink
        self._reading = asyncio.Event()
        self._reading.set()
        handler = self._package_handler
        handler._handle_qos_1_publish_packet = self._on_qos1
        handler._handle_qos_2_publish_packet = self._on_qos2
        self.on_message = self._on_qos0

    # --- receiving ------------------------------------------------------------------------------------------
    def _on_qos0(self, client: object, topic: str, payload: bytes, qos: int, properties: Any) -> None:
        self._sink(Message(topic, payload, time.time_ns()))

    def _on_qos1(self, mid: int, payload: bytes, topic: str, properties: Any) -> None:
        self._sink(Message(topic, payload, time.time_ns(), PendingAck(self._connection, mid)))

    def _on_qos2(self, mid: int, payload: bytes, topic: str, properties: Any) -> None:
        # Ingest subscribes at QoS 0 or 1; a broker never upgrades, so this only guards against misuse.
        self._connection.send_command_with_mid(0x50, mid, False)  # PUBREC
        self._sink(Message(topic, payload, time.time_ns()))

    # --- acknowledging --------------------------------------------------------------------------------------
    def ack(self, acks: list[AckToken]) -> int:
        """Send the PUBACKs owed on the live connection in one write; returns how many were sent."""
        connection = self._connection
        if connection is None or connection.is_closing():
            return 0
        mids = [a.mid for a in acks if isinstance(a, PendingAck) and a.connection is connection]
        if mids:
            connection.send_package(b"".join(_PUBACK.pack(PUBACK, 2, mid) for mid in mids))
        return len(mids)

    # --- flow control ---------------------------------------------------------------------------------------
    def pause(self) -> None:
        """Stop taking messages from the socket until :meth:`resume`."""
        self._reading.clear()

    def resume(self) -> None:
        """Read again."""
        self._reading.set()

    @property
    def paused(self) -> bool:
        """Whether reading from the broker is paused."""
        return not self._reading.is_set()

    def gate_reads(self) -> None:
        """Make the live connection's read loop wait while paused; give it the fast packet splitter.

        Call after every (re)connect.
        """
        connection = self._connection
        protocol = getattr(connection, "_protocol", None)
        if protocol is None or getattr(protocol, "_stadtpuls_gated", False):
            return
        version = self._connection_state.protocol_version
        protocol._read_packet = _fast_reader(connection, self._package_handler, self._sink, version)
        original = protocol.read
        reading = self._reading

        async def gated_read(n: int = -1) -> bytes:
            if not reading.is_set():
                await reading.wait()
            data: bytes = await original(n)
            return data

        protocol.read = gated_read
        protocol._stadtpuls_gated = True


def _fast_reader(connection: Any, handler: Any, sink: Sink, protocol_version: int) -> Callable[[bytes], int]:
    """A packet splitter for one connection in place of gmqtt's, handling QoS 0/1 PUBLISH packets inline.

    Returns how many bytes of ``data`` were whole packets (the rest waits for the next read), or -1 on a
    malformed length, as gmqtt's does.
    """
    topics: dict[bytes, str] = {}
    mqtt5 = protocol_version >= _MQTT5

    def read_packet(data: bytes) -> int:
        if handler.current_connection is not connection:
            return int(original(data))  # a superseded connection: gmqtt drops what it still delivers
        arrival = time.time_ns()
        size = len(data)
        at = 0
        inline = 0
        while size - at >= 2:
            # the fixed header: command byte, then the remaining length (1-4 bytes, 7 bits each)
            length = 0
            shift = 0
            pos = at + 1
            while True:
                if pos >= size:
                    return _done(at, inline)
                byte = data[pos]
                length |= (byte & 0x7F) << shift
                pos += 1
                if not byte & 0x80:
                    break
                shift += 7
                if shift > 21:
                    return -1
            end = pos + length
            if end > size:
                break
            command = data[at]
            if command & 0xF0 == _PUBLISH and not command & 0x04 and length >= 2:  # QoS 0 or 1
                qos1 = command & 0x02
                topic_end = pos + 2 + (data[pos] << 8 | data[pos + 1])
                body = topic_end + 2 if qos1 else topic_end
                if not mqtt5:
                    message_ok = body <= end
                elif body < end and data[body] == 0:  # an empty property block
                    body += 1
                    message_ok = True
                else:
                    message_ok = False
                raw_topic = data[pos + 2:topic_end]
                topic = topics.get(raw_topic)
                if topic is None and message_ok and raw_topic:
                    try:
                        topic = raw_topic.decode()
                    except UnicodeDecodeError:
                        topic = None
                    else:
                        if len(topics) >= _TOPIC_CACHE:
                            topics.clear()
                        topics[raw_topic] = topic
                if message_ok and topic is not None:
                    payload = data[body:end]
                    try:
                        if qos1:
                            mid = data[topic_end] << 8 | data[topic_end + 1]
                            sink(Message(topic, payload, arrival, PendingAck(connection, mid)))
                        else:
                            sink(Message(topic, payload, arrival))
                    except Exception:  # as gmqtt's handler does: log it, keep reading (the broker redelivers)
                        log.exception("error handling a message on %s", topic)
                    inline += 1
                    at = end
                    continue
            connection.put_package(Package(command, data[pos:end]))
            at = end
        return _done(at, inline)

    def _done(at: int, inline: int) -> int:
        if inline:  # what gmqtt's own path records per packet, once per read
            connection._last_data_in = handler._last_msg_in = time.monotonic()
        return at

    original = type(connection._protocol)._read_packet.__get__(connection._protocol)
    return read_packet
