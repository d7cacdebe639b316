"""Cayenne LPP (myDevices Low Power Payload), named as The Things Stack names its keys: ``<type>_<channel>``.

Frame: repeated ``[channel u8][type u8][value]``, big-endian. Any fPort. Scaled values are divided, not rounded:
IEEE division of the raw integer is correctly rounded, so ``272 / 10`` is exactly the float ``27.2``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from devices.codecs._frames import STRUCT_CODES
from devices.codecs.base import CodecError, DecodeResult, fail, ok


class _Part(NamedTuple):
    key: str  # "" for a scalar type, else the component's key ("x", "latitude", ...)
    width: int  # bytes
    divisor: int
    signed: bool


class _Type(NamedTuple):
    name: str
    size: int  # bytes
    parts: tuple[_Part, ...]


def _scalar(name: str, width: int, divisor: int, *, signed: bool) -> _Type:
    return _Type(name, width, (_Part("", width, divisor, signed),))


def _vector(name: str, keys: tuple[str, ...], width: int, divisors: tuple[int, ...]) -> _Type:
    parts = tuple(_Part(k, width, d, True) for k, d in zip(keys, divisors, strict=True))
    return _Type(name, width * len(parts), parts)


_TYPES: dict[int, _Type] = {
    0: _scalar("digital_in", 1, 1, signed=False),
    1: _scalar("digital_out", 1, 1, signed=False),
    2: _scalar("analog_in", 2, 100, signed=True),
    3: _scalar("analog_out", 2, 100, signed=True),
    101: _scalar("luminosity", 2, 1, signed=False),
    102: _scalar("presence", 1, 1, signed=False),
    103: _scalar("temperature", 2, 10, signed=True),
    104: _scalar("relative_humidity", 1, 2, signed=False),
    113: _vector("accelerometer", ("x", "y", "z"), 2, (1000, 1000, 1000)),
    115: _scalar("barometric_pressure", 2, 10, signed=False),
    134: _vector("gyrometer", ("x", "y", "z"), 2, (100, 100, 100)),
    136: _vector("gps", ("latitude", "longitude", "altitude"), 3, (10000, 10000, 100)),
}
_BY_NAME = {t.name: (code, t) for code, t in _TYPES.items()}
_KEY = re.compile(r"^([a-z_]+)_(\d{1,3})$")


# Decoding tables, derived once from _TYPES: per type code its struct reader and the key for each channel
# ("temperature_0" .. "temperature_255"), so the loop below formats no strings and builds no slices.
_KEYS = {code: tuple(f"{t.name}_{channel}" for channel in range(256)) for code, t in _TYPES.items()}
Unpack = Callable[[bytes, int], tuple[int, ...]]
Reader = Callable[[bytes, int], dict[str, float]]


def _scalar_decoder(code: int, kind: _Type) -> tuple[str, int, tuple[str, ...], Unpack, int]:
    (part,) = kind.parts
    return (
        kind.name,
        kind.size,
        _KEYS[code],
        struct.Struct(">" + STRUCT_CODES[part.width, part.signed]).unpack_from,
        part.divisor,
    )


def _vector_reader(kind: _Type) -> Reader:
    """Read a three-axis value. A 3-byte axis is a signed high byte and an unsigned 16-bit rest (struct has no
    24-bit format), joined as ``high << 16 | rest``.
    """
    (kx, ky, kz), (dx, dy, dz) = (tuple(p.key for p in kind.parts), tuple(p.divisor for p in kind.parts))
    if kind.parts[0].width == 2:
        unpack16 = struct.Struct(">hhh").unpack_from

        def read16(payload: bytes, pos: int) -> dict[str, float]:
            x, y, z = unpack16(payload, pos)
            return {kx: x / dx, ky: y / dy, kz: z / dz}

        return read16
    unpack24 = struct.Struct(">bHbHbH").unpack_from

    def read24(payload: bytes, pos: int) -> dict[str, float]:
        xh, xl, yh, yl, zh, zl = unpack24(payload, pos)
        return {kx: (xh << 16 | xl) / dx, ky: (yh << 16 | yl) / dy, kz: (zh << 16 | zl) / dz}

    return read24


_SCALARS = {code: _scalar_decoder(code, t) for code, t in _TYPES.items() if len(t.parts) == 1}
_VECTORS = {code: (t.name, t.size, _KEYS[code], _vector_reader(t)) for code, t in _TYPES.items() if len(t.parts) == 3}


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode a Cayenne LPP frame into ``{"<type>_<channel>": value}``."""
    data: dict[str, Any] = {}
    pos, end = 0, len(payload)
    while pos < end:
        if pos + 2 > end:
            return fail(f"truncated frame: channel/type header at byte {pos} is incomplete")
        channel, code = payload[pos], payload[pos + 1]
        pos += 2
        scalar = _SCALARS.get(code)
        if scalar is not None:
            name, size, keys, unpack, divisor = scalar
            if pos + size > end:
                return fail(f"truncated {name} value on channel {channel}: needs {size} bytes")
            raw = unpack(payload, pos)[0]
            data[keys[channel]] = raw if divisor == 1 else raw / divisor
        else:
            vector = _VECTORS.get(code)
            if vector is None:
                return fail(f"unknown Cayenne LPP type {code} at byte {pos - 1}")
            name, size, keys, read = vector
            if pos + size > end:
                return fail(f"truncated {name} value on channel {channel}: needs {size} bytes")
            data[keys[channel]] = read(payload, pos)
        pos += size
    if not data:
        return fail("empty payload")
    return ok(data)


def _write(part: _Part, value: Any) -> bytes:
    number = round(float(value) * part.divisor)
    try:
        return number.to_bytes(part.width, "big", signed=part.signed)
    except OverflowError as exc:
        raise CodecError(f"value {value!r} does not fit in {part.width} bytes") from exc


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``{"<type>_<channel>": value}`` as a Cayenne LPP frame (inverse of :func:`decode`)."""
    out = bytearray()
    for key, value in data.items():
        match = _KEY.match(key)
        found = _BY_NAME.get(match.group(1)) if match else None
        if match is None or found is None:
            raise CodecError(f"not a Cayenne LPP key: {key!r}")
        code, kind = found
        channel = int(match.group(2))
        if channel > 255:
            raise CodecError(f"channel {channel} out of range 0..255")
        out += bytes((channel, code))
        if len(kind.parts) == 1:
            out += _write(kind.parts[0], value)
        else:
            if not isinstance(value, dict):
                raise CodecError(f"{key} needs an object with {[p.key for p in kind.parts]}")
            out += b"".join(_write(p, value[p.key]) for p in kind.parts)
    return bytes(out)
