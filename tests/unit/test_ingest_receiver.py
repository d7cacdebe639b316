"""The receive fast path: MQTT packets split and PUBLISH packets turned into messages without gmqtt's handler."""

from __future__ import annotations

from typing import Any

import pytest
from gmqtt.mqtt.package import Package

from ingest.receiver import PendingAck, _fast_reader
from ingest.records import Message


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish(topic: str, payload: bytes, *, qos: int = 1, mid: int = 7, properties: bytes | None = b"") -> bytes:
    """A PUBLISH packet; ``properties`` None: MQTT 3.1.1 (no property block)."""
    t = topic.encode()
    body = len(t).to_bytes(2, "big") + t + (mid.to_bytes(2, "big") if qos else b"")
    if properties is not None:
        body += _length(len(properties)) + properties
    body += payload
    return bytes([0x30 | qos << 1]) + _length(len(body)) + body


class FakeProtocol:
    def __init__(self) -> None:
        self.slow: list[bytes] = []

    def _read_packet(self, data: bytes) -> int:
        self.slow.append(data)
        return len(data)


class FakeConnection:
    def __init__(self) -> None:
        self._protocol = FakeProtocol()
        self.packages: list[Package] = []
        self._last_data_in = 0.0

    def put_package(self, pkg: Package) -> None:
        self.packages.append(pkg)


class FakeHandler:
    def __init__(self, connection: Any) -> None:
        self.current_connection = connection
        self._last_msg_in = 0.0


def reader(version: int = 5) -> tuple[Any, FakeConnection, FakeHandler, list[Message]]:
    connection = FakeConnection()
    handler = FakeHandler(connection)
    got: list[Message] = []
    return _fast_reader(connection, handler, got.append, version), connection, handler, got


def test_qos1_publish_becomes_a_message_with_its_packet_id() -> None:
    read, connection, handler, got = reader()
    data = publish("a/b", b'{"x": 1}', mid=513)
    assert read(data) == len(data)
    assert [(m.topic, m.payload) for m in got] == [("a/b", b'{"x": 1}')]
    ack = got[0].ack
    assert isinstance(ack, PendingAck)
    assert ack.mid == 513
    assert ack.connection is connection
    assert connection.packages == []
    assert handler._last_msg_in > 0
    assert connection._last_data_in > 0


def test_qos0_and_mqtt311_publishes() -> None:
    read, _, _, got = reader()
    read(publish("t/0", b"zero", qos=0))
    assert got[0].payload == b"zero"
    assert got[0].ack is None
    read311, _, _, got311 = reader(version=4)
    data = publish("t/1", b"one", properties=None, mid=9)
    assert read311(data) == len(data)
    assert got311[0].payload == b"one"
    assert isinstance(got311[0].ack, PendingAck)
    assert got311[0].ack.mid == 9


def test_a_packet_split_across_reads_waits_for_its_rest() -> None:
    read, _, _, got = reader()
    big = publish("t", b"p" * 300)  # a two-byte remaining length
    data = publish("t", b"first") + big
    cut = len(data) - 100
    used = read(data[:cut])
    assert used == len(data) - len(big)
    assert [m.payload for m in got] == [b"first"]
    assert read(data[used:]) == len(big)
    assert got[1].payload == b"p" * 300
    assert read(big[:1]) == 0
    assert read(big[:2]) == 0


def test_other_packets_and_publishes_with_properties_take_gmqtts_path() -> None:
    read, connection, _, got = reader()
    suback = bytes([0x90, 3, 0, 1, 1])
    with_alias = publish("t", b"aliased", properties=bytes([0x23, 0, 1]))  # topic alias 1
    qos2 = publish("t", b"two", qos=2)
    data = suback + with_alias + publish("t", b"fast") + qos2
    assert read(data) == len(data)
    assert [m.payload for m in got] == [b"fast"]
    assert [p.cmd for p in connection.packages] == [0x90, 0x32, 0x34]
    assert connection.packages[1].data == with_alias[2:]


def test_undecodable_topic_goes_to_gmqtt() -> None:
    read, connection, _, got = reader()
    t = b"\xff\xfe"
    body = len(t).to_bytes(2, "big") + t + b"\x00\x01" + b"\x00" + b"x"
    read(bytes([0x32, len(body)]) + body)
    assert got == []
    assert len(connection.packages) == 1


def test_a_superseded_connection_uses_gmqtts_path() -> None:
    read, connection, handler, got = reader()
    handler.current_connection = object()
    data = publish("t", b"late")
    assert read(data) == len(data)
    assert got == []
    assert connection._protocol.slow == [data]


def test_a_malformed_length_is_refused() -> None:
    read, _, _, _ = reader()
    assert read(bytes([0x32, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])) == -1


def test_a_sink_that_raises_does_not_stop_reading(caplog: pytest.LogCaptureFixture) -> None:
    connection = FakeConnection()
    seen: list[bytes] = []

    def sink(message: Message) -> None:
        seen.append(message.payload)
        if message.payload == b"bad":
            raise RuntimeError("boom")

    read = _fast_reader(connection, FakeHandler(connection), sink, 5)
    data = publish("t", b"bad") + publish("t", b"good")
    assert read(data) == len(data)
    assert seen == [b"bad", b"good"]
    assert "error handling a message" in caplog.text
