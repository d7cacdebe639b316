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
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from typing import Any

import gmqtt

from ingest.records import AckToken, Message

PUBACK = 0x40
_PUBACK = struct.Struct("!BBH")


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
        """Make the live connection's read loop wait while paused (call after every (re)connect)."""
        connection = self._connection
        protocol = getattr(connection, "_protocol", None)
        if protocol is None or getattr(protocol, "_stadtpuls_gated", False):
            return
        original = protocol.read
        reading = self._reading

        async def gated_read(n: int = -1) -> bytes:
            if not reading.is_set():
                await reading.wait()
            data: bytes = await original(n)
            return data

        protocol.read = gated_read
        protocol._stadtpuls_gated = True
