"""Envelope adapters: TTS v3 and ChirpStack v4 → Uplink; legacy and garbage refused with a reason."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.envelopes import EnvelopeError, parse_envelope
from stadtpuls.schema import Source

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelopes"


def load(name: str) -> tuple[str, dict[str, Any]]:
    doc = json.loads((VECTORS / f"{name}.json").read_text())
    return doc["topic"], doc["payload"]


def parse(topic: str, payload: dict[str, Any] | bytes, arrival_ns: int = 42) -> Any:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_envelope(topic, raw, arrival_ns=arrival_ns)


def test_tts_v3_uplink() -> None:
    up = parse(*load("ttn-v3-up"))
    assert up.source is Source.TTS
    assert up.dev_eui == "70B3D5E75E000001"
    assert up.device_id == "nps405-0001"
    assert up.application_id == "city-parking"
    assert (up.f_port, up.f_cnt, up.payload) == (1, 4711, b"\x95")
    assert up.received_ns == 1714817702100000000  # uplink_message.received_at, all nine digits
    assert up.dedup_key == "tts:70B3D5E75E000001:AY8bT3H9q2k=:4711"
    assert (up.rssi, up.snr, up.gateways) == (-97.0, 7.5, 2)


def test_chirpstack_v4_uplink_with_omitted_fcnt() -> None:
    up = parse(*load("chirpstack-v4-up"))
    assert up.source is Source.CHIRPSTACK
    assert up.dev_eui == "0101010101010101"
    assert up.f_cnt == 0  # omitted by the protobuf JSON mapping
    assert up.payload == b"\xaa"
    assert up.received_ns == 1658136855775023242
    assert up.dedup_key == "cs:3ac7e3c4-4401-4b8d-9386-a5c902f9202d"


def test_first_uplink_without_fcnt_or_port_defaults_to_zero() -> None:
    topic, payload = load("ttn-v3-up")
    del payload["uplink_message"]["f_cnt"]
    del payload["uplink_message"]["f_port"]
    up = parse(topic, payload)
    assert (up.f_cnt, up.f_port) == (0, 0)


def test_missing_server_time_falls_back_to_arrival() -> None:
    topic, payload = load("chirpstack-v4-up")
    del payload["time"]
    assert parse(topic, payload, arrival_ns=123).received_ns == 123


def test_same_uplink_twice_has_same_key_and_time() -> None:
    first, second = parse(*load("ttn-v3-up"), arrival_ns=1), parse(*load("ttn-v3-up"), arrival_ns=2)
    assert (first.dedup_key, first.received_ns) == (second.dedup_key, second.received_ns)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"payload_raw": "AQ==", "dev_id": "x"}, "TTN v2"),
        ({"devEUI": "0101010101010101", "applicationID": "1", "data": "AQ=="}, "ChirpStack v3"),
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        ({"end_device_ids": {"dev_eui": "XYZ"}, "uplink_message": {}}, "16 hex digits"),
        ({"end_device_ids": {"dev_eui": "0101010101010101"}, "uplink_message": {"frm_payload": "***"}}, "base64"),
        (
            {"end_device_ids": {"dev_eui": "0101010101010101"}, "uplink_message": {"received_at": "yesterday"}},
            "RFC 3339",
        ),
    ],
)
def test_bad_tts_envelopes_name_the_problem(payload: dict[str, Any] | bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        parse("v3/app/devices/dev/up", payload)


def test_unknown_topic_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="neither a TTS v3 nor a ChirpStack v4"):
        parse("v3/app/devices/dev/join", {"x": 1})


def test_oversized_envelope_is_refused() -> None:
    with pytest.raises(EnvelopeError, match="exceeds"):
        parse("v3/app/devices/dev/up", b"{" + b" " * (17 * 1024**2) + b"}")  # the pipeline's own cap is lower


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-04T10:15:02Z", 1714817702000000000),
        ("2024-05-04T10:15:02.1Z", 1714817702100000000),
        ("2024-05-04T12:15:02.123456789+02:00", 1714817702123456789),
        ("2024-05-04T10:15:02.1234567891234Z", 1714817702123456789),
    ],
)
def test_timestamps_keep_nanoseconds(text: str, expected: int) -> None:
    topic, payload = load("chirpstack-v4-up")
    payload["time"] = text
    assert parse(topic, payload).received_ns == expected


TOPICS = st.sampled_from(
    ["v3/app/devices/dev/up", "application/a/device/0101010101010101/event/up", "random/topic", ""]
)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(topic=TOPICS, raw=st.binary(max_size=300))
def test_fuzz_random_bytes_raise_only_envelope_errors(topic: str, raw: bytes) -> None:
    try:
        parse_envelope(topic, raw, arrival_ns=0)
    except EnvelopeError as exc:
        assert str(exc)  # noqa: PT017 - not raising is a valid outcome too; a raised error must say what is wrong


@settings(max_examples=300, deadline=None)
@given(topic=TOPICS, doc=JSONISH)
def test_fuzz_random_json_raise_only_envelope_errors(topic: str, doc: Any) -> None:
    try:
        parse_envelope(topic, json.dumps(doc).encode(), arrival_ns=0)
    except EnvelopeError as exc:
        assert str(exc)  # noqa: PT017 - not raising is a valid outcome too; a raised error must say what is wrong


def _paths(doc: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    return out


@pytest.mark.parametrize("name", ["ttn-v3-up", "chirpstack-v4-up"])
@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_fuzz_mutated_real_envelopes(name: str, data: st.DataObject) -> None:
    topic, payload = load(name)
    path = data.draw(st.sampled_from(_paths(payload)))
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = data.draw(JSONISH)
    try:
        up = parse(topic, payload)
    except EnvelopeError as exc:
        assert str(exc)  # noqa: PT017 - not raising is a valid outcome too; a raised error must say what is wrong
    else:
        assert len(up.dev_eui) == 16
