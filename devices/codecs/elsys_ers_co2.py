"""Elsys ERS CO2 (and the other sensors of the Elsys payload family).

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/elsys/elsys.js``). A frame
is a run of ``[type][value]`` items, big-endian. The ERS CO2 sends temperature (0x01, int16/10 °C),
humidity (0x02, %), light (0x04, lux), motion (0x05, PIR count in the interval), CO2 (0x06, ppm) and
supply voltage (0x07, mV); the other types of the family are decoded as the vendor codec does, including
its habit of reading 32-bit counters as signed. The vendor codec stops at the first unknown type; so does
this one, with a warning. The data port is configurable (default 5), so any application fPort is accepted.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.codecs._frames import STRUCT_CODES, pack, scaled, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

MAX_APP_PORT = 223
GRIDEYE_TYPE, GRIDEYE_PIXELS = 0x13, 64
EXT_TEMP2_TYPE = 0x19


@dataclass(frozen=True)
class _Field:
    key: str
    size: int  # bytes
    signed: bool = False
    divisor: float = 1  # value = raw / divisor


@dataclass(frozen=True)
class _Type:
    code: int
    fields: tuple[_Field, ...]

    @property
    def size(self) -> int:
        return sum(f.size for f in self.fields)


def _t(code: int, *fields: _Field) -> _Type:
    return _Type(code, fields)


def _f(key: str, size: int, *, signed: bool = False, divisor: float = 1) -> _Field:
    return _Field(key, size, signed, divisor)


_TYPES = (
    _t(0x01, _f("temperature", 2, signed=True, divisor=10)),
    _t(0x02, _f("humidity", 1)),
    _t(0x03, _f("x", 1, signed=True), _f("y", 1, signed=True), _f("z", 1, signed=True)),
    _t(0x04, _f("light", 2)),
    _t(0x05, _f("motion", 1)),
    _t(0x06, _f("co2", 2)),
    _t(0x07, _f("vdd", 2)),
    _t(0x08, _f("analog1", 2)),
    _t(0x09, _f("lat", 3), _f("long", 3)),
    _t(0x0A, _f("pulse1", 2)),
    _t(0x0B, _f("pulseAbs", 4, signed=True)),
    _t(0x0C, _f("externalTemperature", 2, signed=True, divisor=10)),
    _t(0x0D, _f("digital", 1)),
    _t(0x0E, _f("distance", 2)),
    _t(0x0F, _f("accMotion", 1)),
    _t(
        0x10,
        _f("irInternalTemperature", 2, signed=True, divisor=10),
        _f("irExternalTemperature", 2, signed=True, divisor=10),
    ),
    _t(0x11, _f("occupancy", 1)),
    _t(0x12, _f("waterleak", 1)),
    _t(0x14, _f("pressure", 4, signed=True, divisor=1000)),
    _t(0x15, _f("soundPeak", 1), _f("soundAvg", 1)),
    _t(0x16, _f("pulse2", 2)),
    _t(0x17, _f("pulseAbs2", 4, signed=True)),
    _t(0x18, _f("analog2", 2)),
    _t(EXT_TEMP2_TYPE, _f("externalTemperature2", 2, signed=True, divisor=10)),
    _t(0x1A, _f("digital2", 1)),
    _t(0x1B, _f("analogUv", 4, signed=True)),
    _t(0x1C, _f("tvoc", 2)),
)
_BY_CODE = {t.code: t for t in _TYPES}
_BY_KEY = {f.key: t for t in _TYPES for f in t.fields}


def _add_ext_temp2(data: dict[str, Any], value: float) -> None:
    """The vendor codec turns repeated external temperature 2 readings into a list."""
    current = data.get("externalTemperature2")
    if current is None:
        data["externalTemperature2"] = value
    elif isinstance(current, list):
        current.append(value)
    else:
        data["externalTemperature2"] = [current, value]


# Decoding tables, derived once from _TYPES: per type code a struct reader of its value, the keys and the
# divisors, so the loop below builds no slices and makes no call per field.
Unpack = Callable[[bytes, int], tuple[int, ...]]
Item = Callable[[bytes, int, dict[str, Any]], None]  # reads a value at pos into the data


def _unpacker(fields: tuple[_Field, ...]) -> Unpack:
    """The raw integers of ``fields``, read at a position of a frame."""
    if all((f.size, f.signed) in STRUCT_CODES for f in fields):
        return struct.Struct(">" + "".join(STRUCT_CODES[f.size, f.signed] for f in fields)).unpack_from
    spans: list[tuple[int, int, bool]] = []  # struct has no 24-bit format: slice such fields
    offset = 0
    for f in fields:
        spans.append((offset, offset + f.size, f.signed))
        offset += f.size

    def unpack(payload: bytes, pos: int) -> tuple[int, ...]:
        return tuple(
            int.from_bytes(payload[pos + first : pos + stop], "big", signed=signed) for first, stop, signed in spans
        )

    return unpack


def _scalar(kind: _Type) -> tuple[int, Unpack, str, float]:
    """A one-field type: value size, reader, key, divisor."""
    (field,) = kind.fields
    return kind.size, _unpacker(kind.fields), field.key, field.divisor


def _group(kind: _Type) -> Item:
    """A type of several fields, each read into its key."""
    unpack = _unpacker(kind.fields)
    fields = tuple((index, f.key, f.divisor) for index, f in enumerate(kind.fields))

    def read(payload: bytes, pos: int, data: dict[str, Any]) -> None:
        values = unpack(payload, pos)
        for index, key, divisor in fields:
            raw = values[index]
            data[key] = raw if divisor == 1 else raw / divisor

    return read


def _ext_temp2(kind: _Type) -> Item:
    _, unpack, _, divisor = _scalar(kind)

    def read(payload: bytes, pos: int, data: dict[str, Any]) -> None:
        raw = unpack(payload, pos)[0]
        _add_ext_temp2(data, raw if divisor == 1 else raw / divisor)

    return read


def _grideye(payload: bytes, pos: int, data: dict[str, Any]) -> None:
    """A reference temperature byte and 64 pixels of tenths of a degree above it."""
    reference = payload[pos]
    data["grideye"] = [reference + b / 10.0 for b in payload[pos + 1 : pos + 1 + GRIDEYE_PIXELS]]


_SCALARS = {t.code: _scalar(t) for t in _TYPES if len(t.fields) == 1 and t.code != EXT_TEMP2_TYPE}
_ITEMS: dict[int, tuple[int, Item]] = {  # the other types: value size, reader
    **{t.code: (t.size, _group(t)) for t in _TYPES if len(t.fields) > 1},
    EXT_TEMP2_TYPE: (_BY_CODE[EXT_TEMP2_TYPE].size, _ext_temp2(_BY_CODE[EXT_TEMP2_TYPE])),
    GRIDEYE_TYPE: (1 + GRIDEYE_PIXELS, _grideye),
}


def _truncated(code: int, pos: int, size: int) -> DecodeResult:
    return fail(f"truncated value of type 0x{code:02x} at byte {pos}: needs {size} bytes")


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one Elsys uplink."""
    if not 1 <= f_port <= MAX_APP_PORT:
        return fail(f"unknown fPort {f_port}; Elsys sensors send on an application fPort 1..{MAX_APP_PORT}")
    payload = bytes(payload)
    data: dict[str, Any] = {}
    warnings: list[str] = []
    pos, end = 0, len(payload)
    while pos < end:
        code = payload[pos]
        start = pos + 1
        scalar = _SCALARS.get(code)
        if scalar is not None:
            size, unpack, key, divisor = scalar
            pos = start + size
            if pos > end:
                return _truncated(code, start, size)
            raw = unpack(payload, start)[0]
            data[key] = raw if divisor == 1 else raw / divisor
            continue
        item = _ITEMS.get(code)
        if item is None:
            warnings.append(f"unknown type 0x{code:02x} at byte {pos}; rest ignored")
            break
        size, read = item
        pos = start + size
        if pos > end:
            return _truncated(code, start, size)
        read(payload, start, data)
    if not data:
        return fail(warnings[0] if warnings else "the frame carries no readings")
    return ok(data, warnings)


def _write(field: _Field, value: Any) -> bytes:
    return pack(scaled(value, field.divisor, field.key), field.size, field.key, signed=field.signed)


def _encode_grideye(values: Any) -> bytes:
    if not isinstance(values, list) or len(values) != GRIDEYE_PIXELS:
        raise CodecError(f"grideye must be a list of {GRIDEYE_PIXELS} temperatures")
    for value in values:
        scaled(value, 1, "grideye")  # raises unless a finite number
    reference = min(math.floor(min(values)), 255)  # the reference byte is unsigned
    pixels = [pack(scaled(v, 10, "grideye", offset=reference), 1, "grideye pixel") for v in values]
    return bytes([GRIDEYE_TYPE]) + pack(reference, 1, "grideye reference") + b"".join(pixels)


def _encode_key(key: str, data: dict[str, Any], done: set[str]) -> bytes:
    if key == "grideye":
        return _encode_grideye(data[key])
    kind = _BY_KEY.get(key)
    if kind is None:
        raise CodecError(f"not an Elsys key: {key!r}")
    if kind.code == EXT_TEMP2_TYPE:
        values = data[key] if isinstance(data[key], list) else [data[key]]
        return b"".join(bytes([kind.code]) + _write(kind.fields[0], v) for v in values)
    missing = [f.key for f in kind.fields if f.key not in data]
    if missing:
        raise CodecError(f"{key} is sent together with {missing}")
    done.update(f.key for f in kind.fields)
    return bytes([kind.code]) + b"".join(_write(f, data[f.key]) for f in kind.fields)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode Elsys readings as one frame, in the order of ``data``'s keys (inverse of :func:`decode`).

    Raises:
        CodecError: an fPort outside 1..223, an unknown key, or a value the sensor cannot report.
    """
    if not 1 <= f_port <= MAX_APP_PORT:
        raise CodecError(f"unknown fPort {f_port}; Elsys sensors send on fPort 1..{MAX_APP_PORT}")
    done: set[str] = set()
    frame = bytearray()
    for key in data:
        if key not in done:
            frame += _encode_key(key, data, done)
            done.add(key)
    return verified(decode, f_port, data, bytes(frame))


# --- physical values → frames (what the sensor's firmware does; the simulator sends these) ----------------

_CLIMATE = struct.Struct(">BhBBBHBBBHBH")


def encode_climate(*, temperature: float, humidity: float, light: float, motion: float, co2: float,
                   vdd: float) -> bytes:
    """The frame of one indoor-climate reading: temperature (°C, 0.1 steps), humidity (%), light (lux), motion
    (PIR count), CO2 (ppm), supply voltage (mV); each rounded and clipped to its field, as the sensor does.
    """
    return _CLIMATE.pack(
        0x01, int(min(32767, max(-32768, round(temperature * 10)))),
        0x02, int(min(255, max(0, round(humidity)))),
        0x04, int(min(65535, max(0, round(light)))),
        0x05, int(min(255, max(0, round(motion)))),
        0x06, int(min(65535, max(0, round(co2)))),
        0x07, int(min(65535, max(0, round(vdd)))),
    )
