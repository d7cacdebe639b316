"""Milesight VS133 AI ToF people counter: one nested object per counting line, fPort 85.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/milesight-iot/vs133.js``), in the
channel/type framing shared with the VS135 (:mod:`devices.codecs._milesight`):
``{"line_1": {"total_in", "total_out", "period_in", "period_out"}, ...}``. Items are
``[channel id][channel type][value]``, little-endian: ``03|06|09|0c d2`` cumulative in (uint32),
``04|07|0a|0d d2`` cumulative out (uint32), ``05|08|0b|0e cc`` in and out of the last period (2 × uint16),
for lines 1..4. The vendor codec stops at the first other channel; so does this one, with a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from devices.codecs._frames import pack, verified
from devices.codecs._milesight import (
    LINES,
    PORT,
    TYPE_PERIOD,
    TYPE_TOTAL,
    FrameError,
    Item,
    encode_counts,
    frame_decoder,
    grouped,
    header,
    layout,
    line_counters,
)
from devices.codecs.base import CodecError

__all__ = ["LINES", "PORT", "decode", "encode", "encode_counts"]

_VALUE_FORMAT = {TYPE_TOTAL: "I", TYPE_PERIOD: "HH"}


def _cut_value(channel: int) -> Callable[[bytes, int], FrameError]:
    def cut(payload: bytes, pos: int) -> FrameError:
        return FrameError(f"truncated value of channel 0x{channel:02x} at byte {pos}: needs 4 bytes")

    return cut


def _cut_header(pos: int) -> str:
    return f"truncated item header at byte {pos}"


# Every item the VS133 sends, by header(channel id, channel type): the line counters, stored per line.
_ITEMS: dict[int, Item] = {
    header(channel, kind): grouped(layout(("value", _VALUE_FORMAT[kind])), f"line_{line}", keys, _cut_value(channel))
    for channel, kind, line, keys in line_counters()
}


decode = frame_decoder("VS133", _ITEMS, cut_header=_cut_header)
"""Decode one VS133 uplink into ``{"line_<n>": {...}}``."""


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
