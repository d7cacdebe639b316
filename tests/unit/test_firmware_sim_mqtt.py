"""The simulator's hand-written MQTT packets, against the MQTT 3.1.1 specification's examples."""

from __future__ import annotations

import pytest

from firmware_sim.mqtt import connect_packet, publish_packet, refusal, remaining_length
from stadtpuls.settings import parse_mqtt_url


@pytest.mark.parametrize(
    ("n", "encoded"),
    [(0, "00"), (127, "7f"), (128, "8001"), (16_383, "ff7f"), (16_384, "808001"), (268_435_455, "ffffff7f")],
)
def test_remaining_length_spec_examples(n: int, encoded: str) -> None:
    assert remaining_length(n).hex() == encoded


def test_connect_with_credentials() -> None:
    packet = connect_packet(parse_mqtt_url("mqtt://ab:cd@host"), "id", keepalive=10)
    header = "00044d515454" + "04" + "c2" + "000a"  # "MQTT", level 4, user+password+clean session, 10 s
    assert packet.hex() == "1016" + header + "00026964" + "00026162" + "00026364"


def test_publish_qos0() -> None:
    assert publish_packet(b"a/b", b"xy") == b"\x30\x07\x00\x03a/bxy"


def test_refusal_texts() -> None:
    assert refusal(5) == "not authorised"
    assert refusal(99) == "code 99"
