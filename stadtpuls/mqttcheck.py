"""Is the MQTT broker there? One CONNECT/CONNACK exchange (MQTT 3.1.1), then DISCONNECT."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl

from stadtpuls.mqttwire import connect_packet, refusal
from stadtpuls.settings import MqttTarget


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
            f"MQTT broker at {where} refused the connection: {refusal(connack[3])}",
        )
    return True, f"MQTT broker at {where} accepts connections"
