"""Milesight VS133 AI ToF people counter: one nested object per counting line, fPort 85.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/milesight-iot/vs133.js``):
``{"line_1": {"total_in", "total_out", "period_in", "period_out"}, ...}``. Items are
``[channel id][channel type][value]``, little-endian: ``03|06|09|0c d2`` cumulative in (uint32),
``04|07|0a|0d d2`` cumulative out (uint32), ``05|08|0b|0e cc`` in and out of the last period (2 × uint16),
for lines 1..4. The vendor codec stops at the first other channel; so does this one, with a warning.
"""

from __future__ import annotations

from typing import Any

from devices.codecs._frames import pack, uint, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PORT = 85
LINES = 4
TYPE_TOTAL, TYPE_PERIOD = 0xD2, 0xCC
_TOTAL_IN = {0x03 + 3 * n: n + 1 for n in range(LINES)}
_TOTAL_OUT = {0x04 + 3 * n: n + 1 for n in range(LINES)}
_PERIOD = {0x05 + 3 * n: n + 1 for n in range(LINES)}
_ITEM_SIZE = 6  # channel, type, 4 value bytes


def _item(channel: int, kind: int, value: bytes) -> tuple[int, dict[str, int]] | None:
    """The line number and fields of one item, or None for a channel this model does not know."""
    if kind == TYPE_TOTAL and channel in _TOTAL_IN:
        return _TOTAL_IN[channel], {"total_in": uint(value, little=True)}
    if kind == TYPE_TOTAL and channel in _TOTAL_OUT:
        return _TOTAL_OUT[channel], {"total_out": uint(value, little=True)}
    if kind == TYPE_PERIOD and channel in _PERIOD:
        return _PERIOD[channel], {"period_in": uint(value[:2], little=True), "period_out": uint(value[2:], little=True)}
    return None


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one VS133 uplink into ``{"line_<n>": {...}}``."""
    if f_port != PORT:
        return unknown_port(f_port, (PORT,))
    payload = bytes(payload)
    data: dict[str, Any] = {}
    warnings: list[str] = []
    for pos in range(0, len(payload), _ITEM_SIZE):
        if pos + 2 > len(payload):
            return fail(f"truncated item header at byte {pos}")
        channel, kind = payload[pos], payload[pos + 1]
        value = payload[pos + 2 : pos + _ITEM_SIZE]
        found = _item(channel, kind, value) if len(value) == 4 else None
        if found is None and len(value) < 4 and _item(channel, kind, bytes(4)) is not None:
            return fail(f"truncated value of channel 0x{channel:02x} at byte {pos + 2}: needs 4 bytes")
        if found is None:
            warnings.append(f"unknown channel 0x{channel:02x} 0x{kind:02x} at byte {pos}; rest ignored")
            break
        line, fields = found
        data.setdefault(f"line_{line}", {}).update(fields)
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
