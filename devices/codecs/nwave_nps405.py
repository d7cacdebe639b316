"""Nwave NPS405 parking sensor.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/nwave/nps405.js``).

* fPort 1, parking status: byte 0 bit 0 occupied, bits 7..1 compressed duration of the previous state (min).
* fPort 2, heartbeat: byte 0 bit 0 occupied, bits 6..0 hardware health; byte 1 battery
  (2500 + 4·x mV); byte 2 temperature (signed, x/2 + 10 °C); three further bytes are not decoded.
* fPort 3, startup: firmware major, minor, patch; reset cause; byte 4 bit 0 occupied.
* fPort 6, debug: raw bytes.
* fPort 10, SDI tag registration: status byte as on fPort 1, then the 4-byte tag id. Newer firmware puts
  the tag's battery (x/10 V) between the two (6-byte frame).
"""

from __future__ import annotations

from typing import Any

from devices.codecs._frames import pack, scaled, sint, too_short, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, ok

PORT_STATUS, PORT_HEARTBEAT, PORT_STARTUP, PORT_DEBUG, PORT_REGISTRATION = 1, 2, 3, 6, 10
OVERFLOW_MINUTES = 660  # a previous state this long or longer is reported as an overflow
HEARTBEAT_SIZE = 6  # bytes the firmware sends; the last three are not decoded
_RESET_CAUSES: dict[int, str] = {
    0: "rejoining_lorawan_network",
    1: "watchdog",
    2: "power_on",
    3: "user_request",
    6: "brownout",
    7: "other",
}
_RESET_CODES = {name: code for code, name in _RESET_CAUSES.items()}
UNNAMED_RESET_CAUSE = 4  # a code the vendor leaves unnamed
_NO_PREVIOUS_STATE: dict[str, Any] = {
    "previous_state_duration": None,
    "previous_state_duration_error": None,
    "previous_state_duration_overflow": None,
}


def _previous_state(compressed: int) -> dict[str, Any]:
    """Expand the 7-bit compressed duration (min) into value, error bound and overflow flag."""
    if compressed < 90:
        duration, error = compressed, 0
    elif compressed < 120:
        duration, error = 90 + (compressed - 90) * 5, 4
    elif compressed < 127:
        duration, error = 240 + (compressed - 120) * 60, 59
    else:
        return {
            "previous_state_duration": 660,
            "previous_state_duration_error": None,
            "previous_state_duration_overflow": True,
        }
    return {
        "previous_state_duration": duration,
        "previous_state_duration_error": error,
        "previous_state_duration_overflow": False,
    }


def _compressed(duration: int) -> int:
    """The 7-bit code of a duration (min) below the overflow: exact below 90, 5-min steps to 240, then hours."""
    if duration < 90:
        return duration
    if duration < 240:
        return 90 + (duration - 90) // 5
    return min(120 + (duration - 240) // 60, 126)


def _compress(data: dict[str, Any]) -> int:
    duration = data.get("previous_state_duration")
    if data.get("previous_state_duration_overflow") is True:
        return 127
    if isinstance(duration, bool) or not isinstance(duration, int) or duration < 0:
        raise CodecError(f"previous_state_duration must be a whole number of minutes, got {duration!r}")
    return _compressed(duration)


def _battery_health(millivolts: int, temperature: float) -> str:
    critical, low = (2900, 3000) if temperature >= -5 else (2800, 2900)
    if millivolts >= low:
        return "normal"
    return "low" if millivolts >= critical else "critical"


def _tag_id(raw: bytes) -> str:
    """The tag id as the vendor formats it: the signed 32-bit value in upper-case hex, unpadded."""
    value = sint(raw)
    return f"-{-value:X}" if value < 0 else f"{value:X}"


def _decode_status(payload: bytes) -> DecodeResult:
    if len(payload) < 1:
        return too_short("parking status", payload, 1)
    status = payload[0]
    return ok({"type": "parking_status", "occupied": bool(status & 1), **_previous_state(status >> 1)})


def _decode_heartbeat(payload: bytes) -> DecodeResult:
    if len(payload) < 3:
        return too_short("heartbeat", payload, 3)
    millivolts = 2500 + payload[1] * 4
    temperature = sint(payload[2:3]) / 2 + 10
    return ok(
        {
            "type": "heartbeat",
            "occupied": bool(payload[0] & 1),
            "hw_health_status": payload[0] & 0x7F,
            "temperature": temperature,
            "battery_voltage": millivolts / 1000,
            "battery_health": _battery_health(millivolts, temperature),
        }
    )


def _decode_startup(payload: bytes) -> DecodeResult:
    if len(payload) < 5:
        return too_short("startup", payload, 5)
    data: dict[str, Any] = {"type": "startup", "firmware_version": ".".join(str(b) for b in payload[:3])}
    cause = _RESET_CAUSES.get(payload[3])
    warnings = [] if cause else [f"unknown reset cause {payload[3]}"]
    if cause:
        data["reset_cause"] = cause
    data["occupied"] = bool(payload[4] & 1)
    return ok(data, warnings)


def _decode_registration(payload: bytes) -> DecodeResult:
    if len(payload) < 5:
        return too_short("tag registration", payload, 5)
    data: dict[str, Any] = {"type": "user_registration"}
    if payload[0] & 1:
        data.update({"occupied": True, **_previous_state(payload[0] >> 1)})
    else:
        data.update({"occupied": None, **_NO_PREVIOUS_STATE})
    if len(payload) >= 6:
        data["tag_battery_voltage"] = payload[1] / 10
    data["tag_id"] = _tag_id(payload[2:6] if len(payload) >= 6 else payload[1:5])
    return ok(data)


def _decode_debug(payload: bytes) -> DecodeResult:
    return ok({"type": "debug", "bytes": list(payload)})


_DECODERS = {
    PORT_STATUS: _decode_status,
    PORT_HEARTBEAT: _decode_heartbeat,
    PORT_STARTUP: _decode_startup,
    PORT_DEBUG: _decode_debug,
    PORT_REGISTRATION: _decode_registration,
}


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one NPS405 uplink."""
    decoder = _DECODERS.get(f_port)
    return unknown_port(f_port, _DECODERS) if decoder is None else decoder(bytes(payload))


def _status_byte(data: dict[str, Any]) -> int:
    return (_compress(data) << 1) | (1 if data.get("occupied") is True else 0)


def _encode_heartbeat(data: dict[str, Any]) -> bytes:
    occupied = 1 if data.get("occupied") is True else 0
    health = data.get("hw_health_status", occupied)
    first = pack(health, 1, "hw_health_status")[0] | occupied
    battery = scaled(data.get("battery_voltage"), 250, "battery_voltage", offset=2.5)
    temperature = scaled(data.get("temperature"), 2, "temperature", offset=10)
    return (
        bytes([first])
        + pack(battery, 1, "battery_voltage")
        + pack(temperature, 1, "temperature", signed=True)
        + bytes(HEARTBEAT_SIZE - 3)
    )


def _encode_startup(data: dict[str, Any]) -> bytes:
    parts = str(data.get("firmware_version", "")).split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CodecError(f"firmware_version must look like '2.4.9', got {data.get('firmware_version')!r}")
    cause = _RESET_CODES.get(data.get("reset_cause", ""), UNNAMED_RESET_CAUSE)
    version = b"".join(pack(int(p), 1, "firmware_version") for p in parts)
    return version + bytes([cause, 1 if data.get("occupied") is True else 0])


def _encode_registration(data: dict[str, Any]) -> bytes:
    status = _status_byte(data) if data.get("occupied") is True else 0
    try:
        tag = int(str(data.get("tag_id")), 16)
    except ValueError as exc:
        raise CodecError(f"tag_id must be hexadecimal, got {data.get('tag_id')!r}") from exc
    tag_bytes = pack(tag, 4, "tag_id", signed=True)
    if "tag_battery_voltage" in data:
        battery = scaled(data["tag_battery_voltage"], 10, "tag_battery_voltage")
        return bytes([status]) + pack(battery, 1, "tag_battery_voltage") + tag_bytes
    return bytes([status]) + tag_bytes


def _encode_debug(data: dict[str, Any]) -> bytes:
    raw = data.get("bytes")
    if not isinstance(raw, list):
        raise CodecError("debug data needs 'bytes': a list of byte values")
    return b"".join(pack(b, 1, "bytes") for b in raw)


_ENCODERS = {
    PORT_STATUS: lambda data: bytes([_status_byte(data)]),
    PORT_HEARTBEAT: _encode_heartbeat,
    PORT_STARTUP: _encode_startup,
    PORT_DEBUG: _encode_debug,
    PORT_REGISTRATION: _encode_registration,
}


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``data`` as the NPS405 sends it on ``f_port`` (inverse of :func:`decode`).

    Raises:
        CodecError: unknown fPort, or data the sensor cannot send.
    """
    encoder = _ENCODERS.get(f_port)
    if encoder is None:
        raise CodecError(f"unknown fPort {f_port}; the NPS405 sends on fPort {sorted(_ENCODERS)}")
    return verified(decode, f_port, data, encoder(data))


# --- physical values → frames (what the sensor's firmware does; the simulator sends these) ----------------


def encode_status(occupied: bool, previous_minutes: int) -> bytes:
    """The fPort 1 frame of a change to ``occupied`` after ``previous_minutes`` (whole min, ≥ 0) in the
    previous state, compressed as the sensor does (:data:`OVERFLOW_MINUTES` or more is an overflow).
    """
    code = 127 if previous_minutes >= OVERFLOW_MINUTES else _compressed(max(0, previous_minutes))
    return bytes([code << 1 | occupied])


def encode_heartbeat(occupied: bool, battery_voltage: float, temperature: float) -> bytes:
    """The fPort 2 frame: state (also as hardware health), battery (V, 2.5..3.52 in 4 mV steps) and
    temperature (°C, -54..73.5 in 0.5 °C steps); values outside are clipped as the sensor's registers do.
    """
    raw_v = int(min(255, max(0, round((battery_voltage - 2.5) * 250))))
    raw_t = int(min(127, max(-128, round((temperature - 10) * 2))))
    return bytes([int(occupied), raw_v, raw_t & 0xFF]) + bytes(HEARTBEAT_SIZE - 3)


def encode_startup(firmware_version: str, reset_cause: str, occupied: bool) -> bytes:
    """The fPort 3 frame after a reset: firmware ``major.minor.patch``, a reset cause named as the decoder
    names it (an unknown name is sent as the unnamed code) and the state.

    Raises:
        CodecError: the firmware version is not three numbers 0..255.
    """
    return _encode_startup({"firmware_version": firmware_version, "reset_cause": reset_cause, "occupied": occupied})
