"""Is the MQTT broker there? One CONNECT/CONNACK exchange (MQTT 3.1.1), then DISCONNECT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import struct

from stadtpuls.settings import MqttTarget

_REFUSALS = {
    1: "unacceptable protocol",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


def _utf8(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("!H", len(raw)) + raw


def _remaining_length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def connect_packet(target: MqttTarget, client_id: str) -> bytes:
    """An MQTT 3.1.1 CONNECT with clean session and optional credentials."""
    flags = 0x02
    body = _utf8(client_id)
    if target.username:
        flags |= 0x80
        body += _utf8(target.username)
        if target.password is not None:
            flags |= 0x40
            body += _utf8(target.password)
    variable = _utf8("MQTT") + bytes((4, flags)) + struct.pack("!H", 10)
    payload = variable + body
    return b"\x10" + _remaining_length(len(payload)) + payload


async def mqtt_reachable(target: MqttTarget, *, timeout: float = 3.0) -> tuple[bool, str]:
    """(True, detail) if the broker accepts a connection, else (False, what went wrong)."""
    where = f"{target.host}:{target.port}"
    try:
        async with asyncio.timeout(timeout):
            tls = ssl.create_default_context() if target.tls else None
            reader, writer = await asyncio.open_connection(target.host, target.port, ssl=tls)
            try:
                writer.write(connect_packet(target, f"stadtpuls-health-{os.urandom(4).hex()}"))
                await writer.drain()
                connack = await reader.readexactly(4)
                writer.write(b"\xe0\x00")
                await writer.drain()
            finally:
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
    except (OSError, TimeoutError, asyncio.IncompleteReadError, ssl.SSLError) as exc:
        return False, f"MQTT broker at {where} is unreachable: {exc!r}"
    if connack[0] != 0x20:
        return False, f"MQTT broker at {where} answered with packet type {connack[0]:#x}, not CONNACK"
    if connack[3] != 0:
        return (
            False,
            f"MQTT broker at {where} refused the connection: {_REFUSALS.get(connack[3], connack[3])}",
        )
    return True, f"MQTT broker at {where} accepts connections"
