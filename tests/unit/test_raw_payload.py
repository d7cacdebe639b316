"""Raw payloads in the radio record (``STADTPULS_KEEP_RAW_PAYLOAD``): off by default, base64 when on."""

from __future__ import annotations

import base64

import pytest

from devices.records import DeviceInfo
from devtools.loadgen import MODEL, device_eui, lpp_payload, uplink
from ingest.pipeline import Pipeline
from ingest.records import Message
from stadtpuls.schema import DeviceClass
from stadtpuls.settings import load_settings

EUI = device_eui(3)


def lookup(dev_eui: str) -> DeviceInfo | None:
    if dev_eui != EUI:
        return None
    return DeviceInfo(dev_eui=EUI, name="s3", model=MODEL, site="Markt", municipality="Musterstadt",
                      device_class=DeviceClass.GENERIC, lat=None, lon=None)


def radio_line(pipeline: Pipeline) -> str:
    topic, body = uplink(3, devices=10, base_ns=1_764_000_000_000_000_000, stream="raw")
    outcome = pipeline.handle(Message(topic, body, 1_764_000_000_000_000_000))
    assert outcome.rejection is None
    [line] = [line for line in outcome.lines if line.startswith("uplink,")]
    return line


def test_the_radio_record_has_no_payload_by_default() -> None:
    line = radio_line(Pipeline(lookup))
    assert "payload=" not in line


def test_the_radio_record_keeps_the_payload_as_base64_when_asked() -> None:
    line = radio_line(Pipeline(lookup, keep_raw_payload=True))
    _head, fields, timestamp = line.split(" ")
    assert timestamp == "1764000000000003000"
    assert f'payload="{base64.b64encode(lpp_payload(3)).decode()}"' in fields.split(",")
    assert fields.startswith("f_cnt=")  # the radio fields are unchanged


def test_keeping_raw_payloads_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().ingest.keep_raw_payload is False
    monkeypatch.setenv("STADTPULS_KEEP_RAW_PAYLOAD", "true")
    assert load_settings().ingest.keep_raw_payload is True
