"""The pipeline: one message record in, its outcome out; cheap checks first; names escaped in one place."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devices.catalog import DeviceModel, QuantityRule
from devices.records import DeviceInfo
from ingest import pipeline as pipeline_module
from ingest.dedup import RecentKeys
from ingest.pipeline import Pipeline
from ingest.records import AckToken, Message
from stadtpuls.schema import DeviceClass

ENVELOPE = json.loads(
    (Path(__file__).resolve().parents[1] / "vectors" / "envelopes" / "ttn-v3-up.json").read_text(encoding="utf-8")
)
DEV_EUI = ENVELOPE["payload"]["end_device_ids"]["dev_eui"]
ARRIVAL = 1_800_000_000_000_000_000
HOSTILE_CHANNELS = ["Markt Platz", "a,b=c", 'quote"double', "back\\slash", "x=y z,w"]


def message(ack: AckToken | None = None, *, f_cnt: int = 4711) -> Message:
    payload = json.loads(json.dumps(ENVELOPE["payload"]))
    payload["uplink_message"]["f_cnt"] = f_cnt
    return Message(ENVELOPE["topic"], json.dumps(payload).encode(), 1_800_000_000_000_000_000, ack)


class CountingLookup:
    """A registry with the envelope's device that counts how often it is asked."""

    def __init__(self, *, known: bool = True) -> None:
        self.calls = 0
        self.known = known

    def __call__(self, dev_eui: str) -> DeviceInfo | None:
        self.calls += 1
        if not self.known:
            return None
        return DeviceInfo(dev_eui, "p1", "nwave-nps405", "parking", "Markt", "Benchstadt", None, None)


class HostileCodec:
    """Decodes every frame to one temperature per hostile channel name."""

    def __init__(self, channels: list[str]) -> None:
        self.channels = channels

    def decode(self, f_port: int, payload: bytes) -> dict[str, Any]:
        return {"data": {f"t/{c}": 20.0 + i for i, c in enumerate(self.channels)}, "warnings": [], "errors": []}


def hostile_pipeline(monkeypatch: pytest.MonkeyPatch, channels: list[str]) -> Pipeline:
    """A pipeline whose device model names its channels after the codec's keys, and whose codec says ``channels``."""
    model = DeviceModel("hostile", "test", "Hostile", DeviceClass.GENERIC, "", None, {}, 0, 0,
                        (QuantityRule(re.compile(r"t/(?P<channel>.+)", re.S), "temperature"),))
    monkeypatch.setattr(pipeline_module, "get_model", lambda name: model)
    monkeypatch.setattr(pipeline_module, "codec_for", lambda entry: HostileCodec(channels))
    return Pipeline(lambda eui: DeviceInfo(eui, "h", "hostile", "generic", "Markt Platz", "Benchstadt", None, None))


def test_the_outcome_carries_the_message_record_unchanged() -> None:
    msg = message(AckToken())
    outcome = Pipeline(CountingLookup()).handle(msg)
    assert outcome.message is msg
    assert outcome.rejection is None
    assert not outcome.duplicate
    assert outcome.lines[0].startswith("uplink,class=parking,dev_eui=70B3D5E75E000001,model=nwave-nps405,")
    assert outcome.lines[1].startswith("occupied,")


def test_a_copy_stops_after_the_envelope_without_device_lookup_or_decoding() -> None:
    lookup = CountingLookup()
    pipe = Pipeline(lookup, dedup=RecentKeys(10))
    first, copy = pipe.handle(message()), pipe.handle(message())
    assert not first.duplicate
    assert first.lines
    assert copy.duplicate
    assert copy.lines == []
    assert copy.rejection is None
    assert copy.model == "nwave-nps405"  # from the cached device, for the metrics
    assert lookup.calls == 1
    assert not pipe.handle(message(f_cnt=4712)).duplicate


def test_a_copy_of_an_unknown_device_costs_no_lookup_and_is_quarantined_once() -> None:
    lookup = CountingLookup(known=False)
    pipe = Pipeline(lookup, dedup=RecentKeys(10))
    first, copy = pipe.handle(message()), pipe.handle(message())
    assert first.rejection is not None
    assert first.rejection.stage == "device"
    assert first.rejection.message == message()
    assert copy.duplicate
    assert copy.rejection is None
    assert lookup.calls == 1


def test_without_a_dedup_memory_every_copy_is_processed() -> None:
    pipe = Pipeline(CountingLookup())
    assert not pipe.handle(message()).duplicate
    assert not pipe.handle(message()).duplicate


def test_hostile_channel_names_are_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = hostile_pipeline(monkeypatch, HOSTILE_CHANNELS).handle(message())
    assert outcome.rejection is None
    prefixes = [line.split(",class=", 1)[0] for line in outcome.lines[1:]]
    assert prefixes == [
        r"temperature,channel=Markt\ Platz",
        r"temperature,channel=a\,b\=c",
        'temperature,channel=quote"double',
        "temperature,channel=back\\slash",
        r"temperature,channel=x\=y\ z\,w",
    ]
    assert outcome.uplink is not None
    assert outcome.lines[1].endswith(f" value=20.0 {outcome.uplink.received_ns}")


def test_a_channel_line_protocol_cannot_carry_is_quarantined_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    outcome = hostile_pipeline(monkeypatch, ["fine", "bell\x07", "trailing\\"]).handle(message())
    assert outcome.rejection is not None
    assert outcome.rejection.stage == "normalise"
    assert "control character" in outcome.rejection.reason
    assert "backslash" in outcome.rejection.reason
    assert [line.split(",", 1)[0] for line in outcome.lines] == ["uplink", "temperature"]  # the rest is kept


def test_the_pipeline_and_the_storage_path_import_no_orm_and_no_mqtt_client() -> None:
    code = ("import sys, ingest.pipeline, ingest.records, ingest.offline, ingest.batcher, ingest.store, ingest.drain; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'gmqtt')))")
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("rx", "f_cnt"),
    [
        ([{"rssi": -71, "snr": 9.25}], 4711),
        ([{"rssi": -71}], 0),
        ([], 2**32 - 1),
        ([{"rssi": -120.5, "snr": -7}, {"rssi": -64, "snr": 1.5}], 12),
        ([{"snr": 3}], 99),
    ],
)
def test_the_radio_record_is_what_the_line_builder_writes(rx: list[dict[str, float]], f_cnt: int) -> None:
    from stadtpuls.lineprotocol import LineBuilder

    payload = json.loads(json.dumps(ENVELOPE["payload"]))
    payload["uplink_message"]["f_cnt"] = f_cnt
    payload["uplink_message"]["rx_metadata"] = rx
    out = Pipeline(CountingLookup()).handle(Message(ENVELOPE["topic"], json.dumps(payload).encode(), ARRIVAL))
    uplink = out.uplink
    assert uplink is not None
    assert out.rejection is None
    tags = out.lines[0].split(" ", 1)[0].removeprefix("uplink")
    fields = (("f_cnt", float(uplink.f_cnt)), ("f_port", float(uplink.f_port)),
              ("gateways", float(uplink.gateways)), ("rssi", uplink.rssi), ("snr", uplink.snr))
    assert out.lines[0] == LineBuilder("channel").fields_line("uplink", tags, fields, uplink.received_ns)

