"""Milesight VS133 AI ToF people counter: one nested object per counting line, fPort 85.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/milesight-iot/vs133.js``):
``{"line_1": {"total_in", "total_out", "period_in", "period_out"}, ...}``. Items are
``[channel id][channel type][value]``, little-endian: ``03|06|09|0c d2`` cumulative in (uint32),
``04|07|0a|0d d2`` cumulative out (uint32), ``05|08|0b|0e cc`` in and out of the last period (2 × uint16),
for lines 1..4. The vendor codec stops at the first other channel; so does this one, with a warning.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from devices.codecs._frames import pack, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PORT = 85
LINES = 4
TYPE_TOTAL, TYPE_PERIOD = 0xD2, 0xCC
_TOTAL_IN = {0x03 + 3 * n: n + 1 for n in range(LINES)}
_TOTAL_OUT = {0x04 + 3 * n: n + 1 for n in range(LINES)}
_PERIOD = {0x05 + 3 * n: n + 1 for n in range(LINES)}
_ITEM_SIZE = 6  # channel, type, 4 value bytes
_ITEMS = (  # channels of one kind of item, its channel type, the fields of its value
    (_TOTAL_IN, TYPE_TOTAL, ("total_in",)),
    (_TOTAL_OUT, TYPE_TOTAL, ("total_out",)),
    (_PERIOD, TYPE_PERIOD, ("period_in", "period_out")),
)
_VALUE_FORMAT = {TYPE_TOTAL: "<I", TYPE_PERIOD: "<HH"}

# Decoding table, derived once from _ITEMS: per item header (channel << 8 | channel type) the line's key, the
# value's fields (index in the unpacked value, key) and the struct reader of the value, so the loop below formats
# no strings and builds no slices.
Unpack = Callable[[bytes, int], tuple[int, ...]]
_DECODERS: dict[int, tuple[str, tuple[tuple[int, str], ...], Unpack]] = {
    channel << 8 | kind: (f"line_{line}", tuple(enumerate(fields)), struct.Struct(_VALUE_FORMAT[kind]).unpack_from)
    for channels, kind, fields in _ITEMS
    for channel, line in channels.items()
}


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one VS133 uplink into ``{"line_<n>": {...}}``."""
    if f_port != PORT:
        return unknown_port(f_port, (PORT,))
    payload = bytes(payload)
    data: dict[str, Any] = {}
    warnings: list[str] = []
    end = len(payload)
    for pos in range(0, end, _ITEM_SIZE):
        if pos + 2 > end:
            return fail(f"truncated item header at byte {pos}")
        channel, kind = payload[pos], payload[pos + 1]
        item = _DECODERS.get(channel << 8 | kind)
        if item is None:
            warnings.append(f"unknown channel 0x{channel:02x} 0x{kind:02x} at byte {pos}; rest ignored")
            break
        if pos + _ITEM_SIZE > end:
            return fail(f"truncated value of channel 0x{channel:02x} at byte {pos + 2}: needs 4 bytes")
        line_key, fields, unpack = item
        values, line = unpack(payload, pos + 2), data.setdefault(line_key, {})
        for index, key in fields:
            line[key] = values[index]
    if not data:
        return fail(warnings[0] if warnings else "the frame carries no readings")
    return ok(data, warnings)


def _line_number(key: str) -> int:
    number = key.removeprefix("line_")
    if not key.startswith("line_") or not number.isdigit() or not 1 <= int(number) <= LINES:
        raise CodecError(f"not a VS133 counting line: {key!r} (line_1..line_{LINES})")
    return int(number)


def _encode_line(line: int, fields: Any) -> bytes:
    if not isinstance(fields, dict):
        raise CodecError(f"line_{line} must be an object, got {fields!r}")
    unknown = set(fields) - {"total_in", "total_out", "period_in", "period_out"}
    if unknown:
        raise CodecError(f"line_{line} has keys the VS133 does not send: {sorted(unknown)}")
    base = 3 * (line - 1)
    out = bytearray()
    if "total_in" in fields:
        out += bytes([0x03 + base, TYPE_TOTAL]) + pack(fields["total_in"], 4, "total_in", little=True)
    if "total_out" in fields:
        out += bytes([0x04 + base, TYPE_TOTAL]) + pack(fields["total_out"], 4, "total_out", little=True)
    if "period_in" in fields or "period_out" in fields:
        out += bytes([0x05 + base, TYPE_PERIOD])
        out += pack(fields.get("period_in"), 2, "period_in", little=True)
        out += pack(fields.get("period_out"), 2, "period_out", little=True)
    return bytes(out)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``{"line_<n>": {...}}`` as one fPort 85 frame (inverse of :func:`decode`).

    Raises:
        CodecError: wrong fPort, an unknown line or key, or a value out of range.
    """
    if f_port != PORT:
        raise CodecError(f"unknown fPort {f_port}; the VS133 sends on fPort {PORT}")
    frame = b"".join(_encode_line(_line_number(key), fields) for key, fields in data.items())
    return verified(decode, f_port, data, frame)
