"""Ingest under hostile input: no message makes handling raise, none is lost, the next one is handled.

The fuzzing runs at the receive level: the MQTT receiver's QoS 1 callback feeds the ingest service's message
handler and its batcher, exactly as gmqtt does, with nested and huge JSON, invalid UTF-8, wrong types in every
envelope field and empty topics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.records import DeviceInfo
from ingest import metrics
from ingest.batcher import Batcher
from ingest.pipeline import Pipeline
from ingest.receiver import BulkAckClient, PendingAck
from ingest.records import Message, Outcome, Rejection
from ingest.service import IngestOptions, IngestService
from stadtpuls.settings import IngestSettings, Settings

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "envelopes"
CS = json.loads((VECTORS / "chirpstack-v4-up.json").read_text(encoding="utf-8"))
TTS = json.loads((VECTORS / "ttn-v3-up.json").read_text(encoding="utf-8"))


def known(eui: str) -> DeviceInfo:
    return DeviceInfo(eui, "p1", "cayenne-lpp", "generic", "Markt", "Benchstadt", None, None)


def nested(depth: int) -> bytes:
    """A ChirpStack envelope with one field nested ``depth`` levels deep."""
    body = json.dumps(CS["payload"])
    return (body[:-1] + ', "object": ' + "[" * depth + "]" * depth + "}").encode()


def cs_message(payload: bytes) -> Message:
    return Message(CS["topic"], payload, 1_700_000_000_000_000_000)


# --- poison messages -------------------------------------------------------------------------------------------
def test_an_envelope_nested_1000_levels_deep_is_kept_as_internal_and_the_next_is_handled() -> None:
    pipe = Pipeline(known)
    before = metrics.INTERNAL_ERRORS.labels("RecursionError")._value.get()
    poison = pipe.handle(cs_message(nested(1000)))
    assert poison.rejection is not None
    assert poison.rejection.stage == "internal"
    assert poison.rejection.reason.startswith("internal: RecursionError")
    assert poison.rejection.message.payload == nested(1000)
    assert metrics.INTERNAL_ERRORS.labels("RecursionError")._value.get() == before + 1
    after = pipe.handle(cs_message(json.dumps(CS["payload"]).encode()))
    assert after.lines[0].startswith("uplink,")  # handled normally (its payload is no Cayenne LPP: a codec reason)
    assert after.rejection is not None
    assert after.rejection.stage == "codec"


def test_a_codec_that_cannot_load_quarantines_each_uplink_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    from ingest import pipeline as pipeline_module

    def broken(entry: object) -> object:
        raise OSError("codec_js file vanished")

    monkeypatch.setattr(pipeline_module, "codec_for", broken)
    outcome = Pipeline(known).handle(cs_message(json.dumps(CS["payload"]).encode()))
    assert outcome.rejection is not None
    assert outcome.rejection.stage == "internal", outcome.rejection
    assert outcome.rejection.reason == "internal: OSError: codec_js file vanished"


def test_a_payload_above_the_cap_is_kept_with_its_first_bytes_and_its_size() -> None:
    big = b'{"x": "' + b"a" * 200_000 + b'"}'
    outcome = Pipeline(known, max_payload=64 * 1024).handle(cs_message(big))
    assert outcome.rejection is not None
    assert outcome.rejection.stage == "size"
    assert "payload of 200009 bytes exceeds the limit of 65536 bytes" in outcome.rejection.reason
    assert outcome.rejection.message.payload == big[:1024]


def test_the_payload_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTPULS_MAX_PAYLOAD_BYTES", "2048")
    assert IngestSettings().max_payload_bytes == 2048
    assert IngestSettings.model_fields["max_payload_bytes"].default == 64 * 1024


# --- fuzzing at the receive level ----------------------------------------------------------------------------
class NullStore:
    async def store(self, lines: list[str], spans: list[Any], rejections: list[Rejection], *,
                    after: Any = None) -> None:
        return None


class Receiving:
    """The ingest service's message handler behind the receiver's QoS 1 callback, with a real batcher."""

    def __init__(self, tmp: Path) -> None:
        self.service = IngestService(Settings(data_dir=tmp), IngestOptions(client_id="fuzz"))
        self.service.directory.get = known  # type: ignore[method-assign]
        self.service.pipeline = Pipeline(known)
        self.batcher = Batcher(NullStore(), batch_size=10**9, max_batch_messages=10**9)  # type: ignore[arg-type]
        self.service._batcher = self.batcher
        self.client = BulkAckClient("fuzz", self.service._on_message)
        self.client._connection = object()

    def receive(self, topic: str, payload: bytes, mid: int) -> None:
        self.client._on_qos1(mid, payload, topic, {})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)
ANY_VALUE = JSON | st.just("9" * 400) | st.just(2**70) | st.just(-1)


def tts_with(path: tuple[str, ...], value: Any) -> bytes:
    doc = json.loads(json.dumps(TTS["payload"]))
    node = doc
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
    node[path[-1]] = value
    return json.dumps(doc).encode()


TTS_FIELDS = [
    ("end_device_ids",), ("end_device_ids", "dev_eui"), ("end_device_ids", "device_id"),
    ("end_device_ids", "application_ids"), ("uplink_message",), ("uplink_message", "f_port"),
    ("uplink_message", "f_cnt"), ("uplink_message", "frm_payload"), ("uplink_message", "rx_metadata"),
    ("uplink_message", "received_at"), ("uplink_message", "session_key_id"), ("correlation_ids",), ("received_at",),
]
CS_FIELDS = ["deviceInfo", "deduplicationId", "time", "fPort", "fCnt", "data", "rxInfo", "object"]


def cs_with(field: str, value: Any) -> bytes:
    doc = json.loads(json.dumps(CS["payload"]))
    doc[field] = value
    return json.dumps(doc).encode()


TOPICS = st.sampled_from(["", "/", CS["topic"], TTS["topic"], "v3//devices//up", "application/////"]) | st.text(
    max_size=40
)
PAYLOADS = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda d: nested(d), st.integers(1, 5000)),
    st.builds(lambda d: b'{"a":' * d + b"1" + b"}" * d, st.integers(1, 5000)),
    st.builds(lambda n: b'{"data": "' + b"A" * n + b'"}', st.integers(0, 300_000)),
    st.builds(lambda b: b'{"time": "' + b + b'"}', st.binary(max_size=20)),  # invalid UTF-8 inside JSON
    st.builds(tts_with, st.sampled_from(TTS_FIELDS), ANY_VALUE),
    st.builds(cs_with, st.sampled_from(CS_FIELDS), ANY_VALUE),
    st.builds(lambda v: json.dumps(v).encode(), JSON),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(messages=st.lists(st.tuples(TOPICS, PAYLOADS), min_size=1, max_size=5))
def test_fuzzed_messages_at_the_receiver_each_end_in_one_outcome_and_are_acknowledged(
    tmp_path: Path, messages: list[tuple[str, bytes]]
) -> None:
    rx = Receiving(tmp_path)
    for mid, (topic, payload) in enumerate(messages, start=1):
        rx.receive(topic, payload, mid)
    rx.receive(CS["topic"], json.dumps(CS["payload"]).encode(), 60000)  # the next message is handled normally
    batch = rx.batcher._current
    assert batch.messages == len(messages) + 1
    assert sorted(a.mid for a in batch.acks if isinstance(a, PendingAck)) == [*range(1, len(messages) + 1), 60000]
    assert batch.spans
    assert batch.spans[-1].message.payload == json.dumps(CS["payload"]).encode()


def test_every_fuzzed_outcome_is_stored_or_rejected_with_a_reason() -> None:
    pipe = Pipeline(known)

    @settings(max_examples=300, deadline=None)
    @given(topic=TOPICS, payload=PAYLOADS)
    def check(topic: str, payload: bytes) -> None:
        outcome: Outcome = pipe.handle(Message(topic, payload, 1))
        assert outcome.lines or outcome.rejection is not None
        if outcome.rejection is not None:
            assert outcome.rejection.reason
            assert outcome.rejection.stage

    check()


# --- time ------------------------------------------------------------------------------------------------------
def cs_at(time_text: str | None, *, dedup_id: bool = True) -> bytes:
    doc = json.loads(json.dumps(CS["payload"]))
    if time_text is None:
        doc.pop("time", None)
    else:
        doc["time"] = time_text
    if not dedup_id:
        doc.pop("deduplicationId", None)
    return json.dumps(doc).encode()


def test_a_server_time_beyond_the_future_window_is_quarantined_with_the_reason() -> None:
    arrival = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z
    pipe = Pipeline(known, future_window=600)
    ahead = pipe.handle(Message(CS["topic"], cs_at("2025-11-24T16:30:00Z"), arrival))
    assert ahead.rejection is not None
    assert ahead.rejection.stage == "time"
    assert "1800 s in the future" in ahead.rejection.reason
    assert "600 s window" in ahead.rejection.reason
    within = pipe.handle(Message(CS["topic"], cs_at("2025-11-24T16:05:00Z"), arrival))
    assert within.rejection is None or within.rejection.stage != "time"


def test_the_future_window_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STADTPULS_FUTURE_WINDOW", "60")
    assert IngestSettings().future_window == 60.0


@pytest.mark.parametrize("text", ["2024-05-04T10:15:02", "2024-05-04T10:15:02.000"])
def test_a_timestamp_without_a_zone_is_utc_not_the_hosts_zone(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    import time as time_module

    from ingest.envelopes import parse_envelope

    monkeypatch.setenv("TZ", "America/New_York")
    time_module.tzset()
    try:
        up = parse_envelope(CS["topic"], cs_at(text), arrival_ns=0)
    finally:
        monkeypatch.delenv("TZ")
        time_module.tzset()
    assert up.received_ns == 1714817702000000000


def test_an_uplink_without_server_time_is_the_same_point_when_redelivered() -> None:
    from ingest.dedup import RecentKeys

    pipe = Pipeline(known, dedup=RecentKeys(100))
    payload = cs_at(None, dedup_id=False)
    first = pipe.handle(Message(CS["topic"], payload, 1_764_000_000_000_000_000))
    again = pipe.handle(Message(CS["topic"], payload, 1_764_000_003_000_000_000))  # redelivered 3 s later
    assert not first.duplicate
    assert again.duplicate
    other = json.loads(payload)
    other["data"] = "AWcA/w=="  # another frame with the same counter (a counter reset): not a copy
    assert not pipe.handle(Message(CS["topic"], json.dumps(other).encode(), 1_764_000_004_000_000_000)).duplicate


# --- values that vanish ----------------------------------------------------------------------------------------
def test_a_decoded_key_no_rule_matches_is_counted_per_model_and_key_and_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from devices.catalog import get_model
    from ingest.normalise import Normaliser

    normaliser = Normaliser(get_model("cayenne-lpp"))
    child = metrics.UNMATCHED_KEYS.labels("cayenne-lpp", "temprature_renamed")
    before = child._value.get()
    with caplog.at_level("WARNING", logger="ingest.normalise"):
        for _ in range(3):
            out = normaliser.normalise({"temperature_1": 20.0, "temprature_renamed": 21.5, "note": "text"})
            assert [m.quantity for m in out.measurements] == ["temperature"]
    assert child._value.get() == before + 3
    warnings = [r for r in caplog.records if "temprature_renamed" in r.getMessage()]
    assert len(warnings) == 1
    assert "matches no catalog rule" in warnings[0].getMessage()


def test_a_key_the_catalog_declares_not_stored_is_neither_counted_nor_logged(caplog: pytest.LogCaptureFixture) -> None:
    from devices.catalog import get_model
    from ingest.normalise import Normaliser

    normaliser = Normaliser(get_model("decentlab-dl-pm"))  # declares protocol_version and device_id not stored
    declared = metrics.UNMATCHED_KEYS.labels("decentlab-dl-pm", "protocol_version")
    surprise = metrics.UNMATCHED_KEYS.labels("decentlab-dl-pm", "pm25_renamed.value")
    before = declared._value.get(), surprise._value.get()
    data = {"protocol_version": 2, "device_id": 1234, "pm25_renamed": {"value": 8.0},
            "pm2_5_mass_concentration": {"value": 7.5}}
    with caplog.at_level("WARNING", logger="ingest.normalise"):
        for _ in range(2):
            assert [m.quantity for m in normaliser.normalise(data).measurements] == ["pm2_5"]
    assert declared._value.get() == before[0]
    assert surprise._value.get() == before[1] + 2
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 1
    assert "pm25_renamed.value" in logged[0]
    assert normaliser.unmatched == ["pm25_renamed.value"]


# --- the spool ---------------------------------------------------------------------------------------------------
def test_a_second_spool_on_a_taken_folder_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    from ingest.spool import Spool, SpoolInUse

    first = Spool(tmp_path, max_bytes=1000)
    with pytest.raises(SpoolInUse, match=r"in use by another ingest process \(pid \d+\)"):
        Spool(tmp_path, max_bytes=1000)
    first.close()
    Spool(tmp_path, max_bytes=1000).close()  # free again once the first is closed


def test_a_spool_file_that_cannot_be_read_is_moved_aside_with_the_reason(tmp_path: Path) -> None:
    import asyncio

    from ingest.drain import SpoolDrain
    from ingest.spool import Spool
    from ingest.store import Quarantine

    written: list[bytes] = []

    class Influx:
        async def write(self, body: bytes) -> None:
            written.append(body)

    spool = Spool(tmp_path, max_bytes=10_000)
    spool.append(b"m v=1 1")
    spool.append(b"m v=2 2")
    spool.append(b"m v=3 3")
    (tmp_path / "000000000001.lp").unlink()
    (tmp_path / "000000000001.lp").mkdir()  # reading it fails with an OSError (even as root)
    (tmp_path / "000000000002.lp").write_bytes(b"m v=\xff 2")  # not UTF-8

    async def go() -> None:
        async def keep(rejections: list[Rejection]) -> None:
            return None

        drain = SpoolDrain(Influx(), spool, Quarantine(keep), max_backoff=0.01)  # type: ignore[arg-type]
        task = asyncio.create_task(drain.run())
        for _ in range(200):
            if not len(spool):
                break
            await asyncio.sleep(0.01)
        assert not task.done()  # the drain is alive
        task.cancel()

    asyncio.run(go())
    assert written == [b"m v=3 3"]
    aside = tmp_path / "unreadable"
    assert sorted(p.name for p in aside.iterdir()) == [
        "000000000001.lp", "000000000001.lp.reason.txt", "000000000002.lp", "000000000002.lp.reason.txt"
    ]
    assert "IsADirectoryError" in (aside / "000000000001.lp.reason.txt").read_text()
    assert "UnicodeDecodeError" in (aside / "000000000002.lp.reason.txt").read_text()
