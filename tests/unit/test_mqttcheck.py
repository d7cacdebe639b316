"""The broker health check against a scripted broker on a loopback socket: accepted, refused, silent, absent."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from stadtpuls.mqttcheck import mqtt_reachable
from stadtpuls.settings import parse_mqtt_url


@dataclass
class ScriptedBroker:
    """Answers every CONNECT with ``connack`` (None: never answers) and records what clients sent."""

    connack: bytes | None
    received: list[bytes] = field(default_factory=list)
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        data = b""
        try:
            data = await reader.read(1024)
            self.received.append(data)
            if self.connack is not None:
                writer.write(self.connack)
                await writer.drain()
            while chunk := await reader.read(1024):
                self.received.append(chunk)
        except ConnectionError:
            pass
        finally:
            writer.close()


@asynccontextmanager
async def broker(connack: bytes | None) -> AsyncIterator[tuple[ScriptedBroker, int]]:
    scripted = ScriptedBroker(connack)
    server = await asyncio.start_server(scripted.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield scripted, port
        server.close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_an_accepting_broker_is_reachable_and_the_check_says_goodbye() -> None:
    async with broker(b"\x20\x02\x00\x00") as (scripted, port):
        ok, detail = await mqtt_reachable(parse_mqtt_url(f"mqtt://127.0.0.1:{port}"))
        await asyncio.sleep(0.05)  # let the broker read the DISCONNECT
    assert ok, detail
    assert detail == f"MQTT broker at 127.0.0.1:{port} accepts connections"
    connect = scripted.received[0]
    assert connect[0] == 0x10  # CONNECT
    assert b"\x00\x04MQTT\x04" in connect  # protocol name and level 4: MQTT 3.1.1
    assert b"stadtpuls-health-" in connect
    assert b"".join(scripted.received[1:]).startswith(b"\xe0\x00")  # DISCONNECT


async def test_credentials_from_the_url_are_sent() -> None:
    async with broker(b"\x20\x02\x00\x00") as (scripted, port):
        ok, _ = await mqtt_reachable(parse_mqtt_url(f"mqtt://health:s3cret@127.0.0.1:{port}"))
    assert ok
    assert b"\x00\x06health" in scripted.received[0]
    assert b"\x00\x06s3cret" in scripted.received[0]


async def test_a_refusal_names_the_brokers_reason_and_is_not_retried() -> None:
    async with broker(b"\x20\x02\x00\x05") as (scripted, port):
        ok, detail = await mqtt_reachable(parse_mqtt_url(f"mqtt://127.0.0.1:{port}"))
        await asyncio.sleep(0.3)
    assert not ok
    assert detail == f"MQTT broker at 127.0.0.1:{port} refused the connection: Connection Refused: not authorised"
    assert scripted.connections == 1


async def test_a_retryable_refusal_leaves_no_reconnect_behind() -> None:
    async with broker(b"\x20\x02\x00\x03") as (scripted, port):
        ok, detail = await mqtt_reachable(parse_mqtt_url(f"mqtt://127.0.0.1:{port}"))
        await asyncio.sleep(0.1)
        left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
    assert not ok
    assert "broker unavailable" in detail
    assert scripted.connections == 1
    # gmqtt schedules a reconnect after a retryable refusal unless told not to; none may be left waiting
    assert [t for t in left if t.get_coro().__qualname__ != ScriptedBroker.handle.__qualname__] == []


async def test_a_silent_broker_times_out() -> None:
    async with broker(None) as (_, port):
        ok, detail = await mqtt_reachable(parse_mqtt_url(f"mqtt://127.0.0.1:{port}"), timeout=0.3)
    assert not ok
    assert detail == f"MQTT broker at 127.0.0.1:{port} did not answer within 0.3 s"


async def test_nothing_listening_is_unreachable() -> None:
    port = closed_port()
    ok, detail = await mqtt_reachable(parse_mqtt_url(f"mqtt://127.0.0.1:{port}"))
    assert not ok
    assert detail.startswith(f"MQTT broker at 127.0.0.1:{port} is unreachable: ConnectionRefusedError")
