"""Cayenne LPP (myDevices Low Power Payload), named as The Things Stack names its keys: ``<type>_<channel>``.

Frame: repeated ``[channel u8][type u8][value]``, big-endian. Any fPort.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.codecs.base import CodecError, DecodeResult, fail, ok


@dataclass(frozen=True)
class _Type:
    code: int
    name: str
    size: int  # bytes
    read: Callable[[bytes], Any]
    write: Callable[[Any], bytes]


def _int(raw: bytes, *, signed: bool) -> int:
    return int.from_bytes(raw, "big", signed=signed)


def _scalar(size: int, divisor: float, *, signed: bool) -> tuple[Callable[[bytes], Any], Callable[[Any], bytes]]:
    def read(raw: bytes) -> Any:
        value = _int(raw, signed=signed)
        return value if divisor == 1 else round(value / divisor, 10)

    def write(value: Any) -> bytes:
        return _pack(value, size, divisor, signed=signed)

    return read, write


def _pack(value: Any, size: int, divisor: float, *, signed: bool) -> bytes:
    number = round(float(value) * divisor)
    try:
        return number.to_bytes(size, "big", signed=signed)
    except OverflowError as exc:
        raise CodecError(f"value {value!r} does not fit in {size} bytes") from exc


def _triple(size: int, divisor: float, keys: tuple[str, str, str]) -> tuple[Callable[..., Any], Callable[..., bytes]]:
    def read(raw: bytes) -> Any:
        return {k: round(_int(raw[i * size : (i + 1) * size], signed=True) / divisor, 10) for i, k in enumerate(keys)}

    def write(value: Any) -> bytes:
        return b"".join(_pack(value[k], size, divisor, signed=True) for k in keys)

    return read, write


def _gps() -> tuple[Callable[..., Any], Callable[..., bytes]]:
    divisors = {"latitude": 10000.0, "longitude": 10000.0, "altitude": 100.0}

    def read(raw: bytes) -> Any:
        return {
            k: round(_int(raw[i * 3 : i * 3 + 3], signed=True) / d, 10) for i, (k, d) in enumerate(divisors.items())
        }

    def write(value: Any) -> bytes:
        return b"".join(_pack(value[k], 3, d, signed=True) for k, d in divisors.items())

    return read, write


_TYPES = [
    _Type(0, "digital_in", 1, *_scalar(1, 1, signed=False)),
    _Type(1, "digital_out", 1, *_scalar(1, 1, signed=False)),
    _Type(2, "analog_in", 2, *_scalar(2, 100, signed=True)),
    _Type(3, "analog_out", 2, *_scalar(2, 100, signed=True)),
    _Type(101, "luminosity", 2, *_scalar(2, 1, signed=False)),
    _Type(102, "presence", 1, *_scalar(1, 1, signed=False)),
    _Type(103, "temperature", 2, *_scalar(2, 10, signed=True)),
    _Type(104, "relative_humidity", 1, *_scalar(1, 2, signed=False)),
    _Type(113, "accelerometer", 6, *_triple(2, 1000, ("x", "y", "z"))),
    _Type(115, "barometric_pressure", 2, *_scalar(2, 10, signed=False)),
    _Type(134, "gyrometer", 6, *_triple(2, 100, ("x", "y", "z"))),
    _Type(136, "gps", 9, *_gps()),
]
_BY_CODE = {t.code: t for t in _TYPES}
_BY_NAME = {t.name: t for t in _TYPES}
_KEY = re.compile(r"^([a-z_]+)_(\d{1,3})$")


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode a Cayenne LPP frame into ``{"<type>_<channel>": value}``."""
    data: dict[str, Any] = {}
    pos = 0
    while pos < len(payload):
        if pos + 2 > len(payload):
            return fail(f"truncated frame: channel/type header at byte {pos} is incomplete")
        channel, code = payload[pos], payload[pos + 1]
        kind = _BY_CODE.get(code)
        if kind is None:
            return fail(f"unknown Cayenne LPP type {code} at byte {pos + 1}")
        start = pos + 2
        if start + kind.size > len(payload):
            return fail(f"truncated {kind.name} value on channel {channel}: needs {kind.size} bytes")
        data[f"{kind.name}_{channel}"] = kind.read(payload[start : start + kind.size])
        pos = start + kind.size
    if not data:
        return fail("empty payload")
    return ok(data)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``{"<type>_<channel>": value}`` as a Cayenne LPP frame (inverse of :func:`decode`)."""
    out = bytearray()
    for key, value in data.items():
        match = _KEY.match(key)
        kind = _BY_NAME.get(match.group(1)) if match else None
        if match is None or kind is None:
            raise CodecError(f"not a Cayenne LPP key: {key!r}")
        channel = int(match.group(2))
        if channel > 255:
            raise CodecError(f"channel {channel} out of range 0..255")
        out += bytes((channel, kind.code)) + kind.write(value)
    return bytes(out)
