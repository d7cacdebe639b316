"""Network-server envelopes → one canonical :class:`~stadtpuls.schema.Uplink`.

Adapters for The Things Stack v3 (``v3/{app}[@{tenant}]/devices/{device}/up``) and ChirpStack v4
(``application/{app}/device/{dev_eui}/event/up``). Both servers omit zero/false/empty fields, so every field
has a default. Legacy shapes (TTN v2, ChirpStack v3) are recognised and refused with a clear reason.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson

from stadtpuls.schema import Source, Uplink


class EnvelopeError(ValueError):
    """A message is not an uplink envelope Stadtpuls understands; the text says why."""


# --- The Things Stack v3 -------------------------------------------------------------------------------------
class _TtsAppIds(msgspec.Struct, gc=False):
    application_id: str = ""


class _TtsIds(msgspec.Struct, gc=False):
    device_id: str = ""
    dev_eui: str = ""
    application_ids: _TtsAppIds = msgspec.field(default_factory=_TtsAppIds)


class _Rx(msgspec.Struct, gc=False):
    rssi: float | None = None
    snr: float | None = None


class _TtsMessage(msgspec.Struct, gc=False):
    session_key_id: str = ""
    f_port: int = 0
    f_cnt: int = 0
    frm_payload: str = ""
    rx_metadata: list[_Rx] = []
    received_at: str = ""


class _TtsEnvelope(msgspec.Struct, gc=False):
    end_device_ids: _TtsIds
    uplink_message: _TtsMessage
    correlation_ids: list[str] = []
    received_at: str = ""


# --- ChirpStack v4 -------------------------------------------------------------------------------------------
class _CsDeviceInfo(msgspec.Struct, rename="camel", gc=False):
    dev_eui: str = ""
    device_name: str = ""
    application_id: str = ""


class _CsEnvelope(msgspec.Struct, rename="camel", gc=False):
    device_info: _CsDeviceInfo
    deduplication_id: str = ""
    time: str = ""
    f_port: int = 0
    f_cnt: int = 0
    data: str = ""
    rx_info: list[_Rx] = []


# The structs hold only strings, numbers and lists of such structs, never a cycle: ``gc=False`` keeps the
# garbage collector from tracking (and scanning) the thousands of them alive between two collections.
_TTS = msgspec.json.Decoder(_TtsEnvelope)
_CS = msgspec.json.Decoder(_CsEnvelope)
_EUI = re.compile(r"[0-9A-Fa-f]{16}").fullmatch
_MAX_ENVELOPE = 16 * 1024**2  # bytes; a last guard: the pipeline caps payloads first (STADTPULS_MAX_PAYLOAD_BYTES)


def parse_envelope(topic: str, payload: bytes, *, arrival_ns: int) -> Uplink:
    """Turn one MQTT message into an Uplink.

    Args:
        topic: the MQTT topic the message arrived on.
        payload: the raw JSON bytes.
        arrival_ns: local arrival time (ns); used only when the envelope carries no server time.

    Raises:
        EnvelopeError: the topic or payload is not an uplink envelope; the message says what is wrong.
    """
    if len(payload) > _MAX_ENVELOPE:
        raise EnvelopeError(f"envelope of {len(payload)} bytes exceeds the {_MAX_ENVELOPE}-byte limit")
    parts = topic.split("/")
    if parts[0] == "v3" and len(parts) >= 5 and parts[2] == "devices" and parts[-1] == "up":
        return _from_tts(topic, parts, payload, arrival_ns)
    if (
        parts[0] == "application"
        and len(parts) == 6
        and parts[2] == "device"
        and parts[4:] == ["event", "up"]
    ):
        return _from_chirpstack(topic, parts, payload, arrival_ns)
    raise EnvelopeError(f"topic {topic!r} is neither a TTS v3 nor a ChirpStack v4 uplink topic")


def _decode(decoder: msgspec.json.Decoder[Any], payload: bytes, server: str) -> object:
    try:
        return decoder.decode(payload)
    except msgspec.ValidationError as exc:
        raise EnvelopeError(_legacy_hint(payload) or f"not a {server} uplink: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"payload is not valid JSON: {exc}") from exc


def _legacy_hint(payload: bytes) -> str | None:
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return f"envelope must be a JSON object, got {type(doc).__name__}"
    if "payload_raw" in doc or "payload_fields" in doc:
        return "TTN v2 (legacy) uplink format: not supported; use The Things Stack v3 MQTT integration"
    if "devEUI" in doc or "applicationID" in doc:
        return "ChirpStack v3 (legacy) uplink format: not supported; use the ChirpStack v4 MQTT integration"
    return None


def _from_tts(topic: str, parts: list[str], payload: bytes, arrival_ns: int) -> Uplink:
    env = _decode(_TTS, payload, "The Things Stack v3")
    assert isinstance(env, _TtsEnvelope)
    msg = env.uplink_message
    dev_eui = _check_eui(env.end_device_ids.dev_eui, "end_device_ids.dev_eui")
    server_time = msg.received_at or env.received_at
    received = _rfc3339_ns(server_time, arrival_ns)
    if msg.session_key_id:
        dedup = f"tts:{dev_eui}:{msg.session_key_id}:{msg.f_cnt}"
    else:
        dedup = next(
            (c for c in env.correlation_ids if c.startswith("as:up:")),
            f"tts:{dev_eui}:{msg.f_cnt}:{received if server_time else _content_key(msg.f_port, msg.frm_payload)}",
        )
    rssi, snr = _best_signal(msg.rx_metadata)
    return Uplink(
        source=Source.TTS,
        topic=topic,
        dev_eui=dev_eui,
        device_id=env.end_device_ids.device_id or parts[3],
        application_id=env.end_device_ids.application_ids.application_id or parts[1].split("@")[0],
        received_ns=received,
        f_port=msg.f_port,
        f_cnt=msg.f_cnt,
        payload=_b64(msg.frm_payload, "uplink_message.frm_payload"),
        dedup_key=dedup,
        rssi=rssi,
        snr=snr,
        gateways=len(msg.rx_metadata),
    )


def _from_chirpstack(topic: str, parts: list[str], payload: bytes, arrival_ns: int) -> Uplink:
    env = _decode(_CS, payload, "ChirpStack v4")
    assert isinstance(env, _CsEnvelope)
    dev_eui = _check_eui(env.device_info.dev_eui or parts[3], "deviceInfo.devEui")
    received = _rfc3339_ns(env.time, arrival_ns)
    if env.deduplication_id:
        dedup = f"cs:{env.deduplication_id}"
    else:
        dedup = f"cs:{dev_eui}:{env.f_cnt}:{received if env.time else _content_key(env.f_port, env.data)}"
    rssi, snr = _best_signal(env.rx_info)
    return Uplink(
        source=Source.CHIRPSTACK,
        topic=topic,
        dev_eui=dev_eui,
        device_id=env.device_info.device_name,
        application_id=env.device_info.application_id or parts[1],
        received_ns=received,
        f_port=env.f_port,
        f_cnt=env.f_cnt,
        payload=_b64(env.data, "data"),
        dedup_key=dedup,
        rssi=rssi,
        snr=snr,
        gateways=len(env.rx_info),
    )


def _content_key(f_port: int, data: str) -> str:
    """Identifies an uplink without a server time by its content: a redelivery arrives at another time."""
    return f"nt:{f_port}:{hashlib.blake2b(data.encode(), digest_size=8).hexdigest()}"


def _check_eui(value: str, where: str) -> str:
    if _EUI(value) is None:
        raise EnvelopeError(f"{where} must be 16 hex digits, got {value!r}")
    return value.upper()


def _b64(text: str, where: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True) if text else b""
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(f"{where} is not valid base64: {exc}") from exc


def _best_signal(rx: list[_Rx]) -> tuple[float | None, float | None]:
    if len(rx) == 1:  # the common case: one gateway heard it
        only = rx[0]
        return (only.rssi, only.snr) if only.rssi is not None else (None, None)
    best = max((r for r in rx if r.rssi is not None), key=lambda r: r.rssi or 0.0, default=None)
    return (best.rssi, best.snr) if best else (None, None)


def _rfc3339_ns(text: str, fallback_ns: int) -> int:
    """``2024-05-04T10:15:02.123456789Z`` → ns since the epoch, keeping all nine digits."""
    if not text:
        return fallback_ns
    try:
        return _parse_rfc3339(text)
    except ValueError as exc:
        raise EnvelopeError(f"timestamp {text!r} is not RFC 3339: {exc}") from exc


def _parse_rfc3339(text: str) -> int:
    head, dot, rest = text.partition(".")
    if len(rest) == 10 and rest[9] == "Z" and rest[:9].isdigit():  # the network servers' own form: 9 digits, Z
        return _utc_seconds(head) * 1_000_000_000 + int(rest[:9])
    if not dot:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:  # no zone: the network servers mean UTC, never the host's zone
            moment = moment.replace(tzinfo=UTC)
        return int(moment.timestamp()) * 1_000_000_000
    digits = 0
    while digits < len(rest) and rest[digits].isdigit():
        digits += 1
    if digits == 0:
        raise ValueError("empty fraction")
    fraction = int(rest[:digits][:9].ljust(9, "0"))
    zone = rest[digits:] or "Z"  # no zone: UTC
    seconds = datetime.fromisoformat(head + zone).timestamp()
    return int(seconds) * 1_000_000_000 + fraction


@functools.lru_cache(maxsize=4096)
def _utc_seconds(head: str) -> int:
    """``2024-05-04T10:15:02`` (UTC) → s since the epoch; remembered, as a second's uplinks share it."""
    return int(datetime.fromisoformat(head + "Z").timestamp())
