"""Bosch TPS110 Parking Lot Sensor (firmware 0.29.x).

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/bosch/tpl110-0292.js``).

* fPort 1, parking status: byte 0 bit 0 occupied.
* fPort 2, heartbeat: byte 0 bit 0 occupied; optional byte 1 temperature (signed, °C).
* fPort 3, startup (17 bytes): three 4-byte debug slots (12-bit code, little-endian, 0 = empty),
  firmware version bytes 12..14, reset cause byte 15, byte 16 bit 0 occupied.
* fPort 4 / 5, device information / usage: raw bytes.
* fPort 6, debug (10 bytes): timestamp int32 LE, 12-bit debug code LE, sequence number uint16 LE at byte 8.
"""

from __future__ import annotations

from typing import Any

from devices.codecs._frames import pack, sint, too_short, uint, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, ok

PORT_STATUS, PORT_HEARTBEAT, PORT_STARTUP, PORT_INFO, PORT_USAGE, PORT_DEBUG = 1, 2, 3, 4, 5, 6
STARTUP_SIZE = 17  # bytes
DEBUG_SIZE = 10  # bytes
DEBUG_SLOTS = 3
PORTS = (PORT_STATUS, PORT_HEARTBEAT, PORT_STARTUP, PORT_INFO, PORT_USAGE, PORT_DEBUG)
_RESET_CAUSES = {1: "watchdog", 2: "power on", 3: "system request", 4: "other"}
_RESET_CODES = {name: code for code, name in _RESET_CAUSES.items()}
_RAW_TYPES = {PORT_INFO: "device information", PORT_USAGE: "device usage"}


def _decode_status(payload: bytes) -> DecodeResult:
    if len(payload) < 1:
        return too_short("parking status", payload, 1)
    return ok({"type": "parking status", "occupied": bool(payload[0] & 1)})


def _decode_heartbeat(payload: bytes) -> DecodeResult:
    if len(payload) < 1:
        return too_short("heartbeat", payload, 1)
    data: dict[str, Any] = {"type": "heartbeat", "occupied": bool(payload[0] & 1)}
    if len(payload) >= 2:
        data["temperature"] = sint(payload[1:2])
    return ok(data)


def _decode_startup(payload: bytes) -> DecodeResult:
    if len(payload) < STARTUP_SIZE:
        return too_short("startup", payload, STARTUP_SIZE)
    codes = [((payload[i + 1] & 0x0F) << 8) | payload[i] for i in range(0, 4 * DEBUG_SLOTS, 4)]
    data: dict[str, Any] = {
        "type": "startup",
        "debugCodes": [code for code in codes if code],
        "firmwareVersion": ".".join(str(b) for b in payload[12:15]),
    }
    cause = _RESET_CAUSES.get(payload[15])
    if cause:
        data["resetCause"] = cause
    data["occupied"] = bool(payload[16] & 1)
    return ok(data, [] if cause else [f"unknown reset cause {payload[15]}"])


def _decode_raw(f_port: int, payload: bytes) -> DecodeResult:
    return ok({"type": _RAW_TYPES[f_port], "bytes": list(payload)})


def _decode_debug(payload: bytes) -> DecodeResult:
    if len(payload) < DEBUG_SIZE:
        return too_short("debug", payload, DEBUG_SIZE)
    return ok(
        {
            "type": "debug",
            "timestamp": sint(payload[0:4], little=True),
            "debugCode": ((payload[5] & 0x0F) << 8) | payload[4],
            "sequenceNumber": uint(payload[8:10], little=True),
        }
    )


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one TPS110 uplink."""
    payload = bytes(payload)
    if f_port == PORT_STATUS:
        return _decode_status(payload)
    if f_port == PORT_HEARTBEAT:
        return _decode_heartbeat(payload)
    if f_port == PORT_STARTUP:
        return _decode_startup(payload)
    if f_port in _RAW_TYPES:
        return _decode_raw(f_port, payload)
    if f_port == PORT_DEBUG:
        return _decode_debug(payload)
    return unknown_port(f_port, PORTS)


def _occupied(data: dict[str, Any]) -> int:
    return 1 if data.get("occupied") is True else 0


def _encode_heartbeat(data: dict[str, Any]) -> bytes:
    if "temperature" not in data:
        return bytes([_occupied(data)])
    return bytes([_occupied(data)]) + pack(data["temperature"], 1, "temperature", signed=True)


def _encode_startup(data: dict[str, Any]) -> bytes:
    codes = data.get("debugCodes", [])
    if not isinstance(codes, list) or len(codes) > DEBUG_SLOTS:
        raise CodecError(f"debugCodes must be a list of at most {DEBUG_SLOTS} codes, got {codes!r}")
    slots = b"".join(pack(code, 2, "debug code", little=True) + bytes(2) for code in codes)
    slots += bytes(4 * DEBUG_SLOTS - len(slots))
    parts = str(data.get("firmwareVersion", "")).split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise CodecError(f"firmwareVersion must look like '0.29.2', got {data.get('firmwareVersion')!r}")
    version = b"".join(pack(int(p), 1, "firmwareVersion") for p in parts)
    cause = _RESET_CODES.get(data.get("resetCause", ""), 0)
    return slots + version + bytes([cause, _occupied(data)])


def _encode_raw(data: dict[str, Any]) -> bytes:
    raw = data.get("bytes")
    if not isinstance(raw, list):
        raise CodecError("data needs 'bytes': a list of byte values")
    return b"".join(pack(b, 1, "bytes") for b in raw)


def _encode_debug(data: dict[str, Any]) -> bytes:
    return (
        pack(data.get("timestamp"), 4, "timestamp", signed=True, little=True)
        + pack(data.get("debugCode"), 2, "debugCode", little=True)
        + bytes(2)
        + pack(data.get("sequenceNumber"), 2, "sequenceNumber", little=True)
    )


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``data`` as the TPS110 sends it on ``f_port`` (inverse of :func:`decode`).

    Raises:
        CodecError: unknown fPort, or data the sensor cannot send.
    """
    if f_port == PORT_STATUS:
        frame = bytes([_occupied(data)])
    elif f_port == PORT_HEARTBEAT:
        frame = _encode_heartbeat(data)
    elif f_port == PORT_STARTUP:
        frame = _encode_startup(data)
    elif f_port in _RAW_TYPES:
        frame = _encode_raw(data)
    elif f_port == PORT_DEBUG:
        frame = _encode_debug(data)
    else:
        raise CodecError(f"unknown fPort {f_port}; the TPS110 sends on fPort 1..6")
    return verified(decode, f_port, data, frame)


# --- physical values → frames (what the sensor's firmware does; the simulator sends these) ----------------


def encode_status(occupied: bool) -> bytes:
    """The fPort 1 frame of a change to ``occupied``."""
    return bytes([int(occupied)])


def encode_heartbeat(occupied: bool, temperature: float) -> bytes:
    """The fPort 2 frame: state and temperature (°C, whole degrees, clipped to -128..127)."""
    raw = int(min(127, max(-128, round(temperature))))
    return bytes([int(occupied), raw & 0xFF])


def encode_startup(firmware_version: str, reset_cause: str, occupied: bool) -> bytes:
    """The fPort 3 frame after a reset, without debug codes: firmware ``major.minor.patch``, a reset cause
    named as the decoder names it (``"power on"``, ``"watchdog"`` ...; an unknown name is sent as code 0).

    Raises:
        CodecError: the firmware version is not three numbers 0..255.
    """
    return _encode_startup({"firmwareVersion": firmware_version, "resetCause": reset_cause, "occupied": occupied})
