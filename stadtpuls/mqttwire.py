"""The few MQTT 3.1.1 packets Stadtpuls writes itself: CONNECT, QoS 0 PUBLISH, and CONNACK refusal texts.

A health check needs one CONNECT/CONNACK exchange and the simulator's fast path writes QoS 0 PUBLISH packets in
batches; a client library would cost a connection state machine for the first and a system call per message for
the second. Everything with acknowledgements (QoS 1) goes through gmqtt.
"""

from __future__ import annotations

import struct

from stadtpuls.settings import MqttTarget

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


def connect_packet(target: MqttTarget, client_id: str, *, keepalive: int = 60) -> bytes:
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
