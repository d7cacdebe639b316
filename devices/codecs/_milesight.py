"""The Milesight channel/type framing both ToF people counters (VS133, VS135) send, on fPort 85.

A frame is a run of items ``[channel id][channel type][value]``, little-endian. Each model module declares its
items as readers in a table keyed by :func:`header`, built from the pieces here (a :class:`Layout` of struct
fields and what they give), and :func:`frame_decoder` makes the model's ``decode`` from that table. The line
counters are the same on both models: ``03|06|09|0c d2`` / ``04|07|0a|0d d2`` cumulative in / out of lines 1..4
(uint32), ``05|08|0b|0e cc`` in and out of the last period (2 × uint16); :func:`encode_counts` writes them.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from devices.codecs._frames import unknown_port
from devices.codecs.base import DecodeResult, fail, ok

PORT = 85
LINES = 4
TYPE_TOTAL, TYPE_PERIOD = 0xD2, 0xCC
TOTAL_IN = {0x03 + 3 * n: n + 1 for n in range(LINES)}  # channel → counting line
TOTAL_OUT = {0x04 + 3 * n: n + 1 for n in range(LINES)}
PERIOD = {0x05 + 3 * n: n + 1 for n in range(LINES)}


class FrameError(ValueError):
    """A frame that cannot be decoded: the message names the byte at fault."""


Field = tuple[str, str]  # what the field is (named in errors), its little-endian struct format ("H", "BB", "8s")
Values = tuple[Any, ...]
Build = Callable[[Values], dict[str, Any]]  # the unpacked fields → the keys and values they give
# reads the value at pos (the frame's length given) into the data, returns the next pos
Item = Callable[[bytes, int, int, dict[str, Any]], int]


@dataclass(frozen=True)
class Layout:
    """A run of fields read with one struct call."""

    fields: tuple[Field, ...]
    size: int
    unpack: Callable[[bytes, int], Values]


def layout(*fields: Field) -> Layout:
    """The layout of ``fields``, in order, little-endian."""
    reader = struct.Struct("<" + "".join(codes for _, codes in fields))
    return Layout(fields, reader.size, reader.unpack_from)


def header(channel: int, kind: int) -> int:
    """An item's channel id and channel type as one lookup key."""
    return channel << 8 | kind


def truncated(run: Layout, payload: bytes, pos: int) -> FrameError:
    """The error for ``run`` at ``pos`` running past the end of ``payload``: it names the first field cut off."""
    for what, codes in run.fields:
        size = struct.calcsize("<" + codes)
        if pos + size > len(payload):
            return FrameError(f"truncated {what} at byte {pos}: needs {size} bytes")
        pos += size
    raise AssertionError(f"{run.fields} fit at byte {pos}")  # only asked about a run that does not fit


def stored(run: Layout, keys: tuple[str, ...]) -> Item:
    """An item whose fields are stored as they are, one flat key each."""
    size, unpack, fields = run.size, run.unpack, tuple(enumerate(keys))

    def read(payload: bytes, pos: int, length: int, out: dict[str, Any]) -> int:
        end = pos + size
        if end > length:
            raise truncated(run, payload, pos)
        values = unpack(payload, pos)
        for index, key in fields:
            out[key] = values[index]
        return end

    return read


def grouped(run: Layout, group: str, keys: tuple[str, ...], cut: Callable[[bytes, int], FrameError]) -> Item:
    """An item of one or two fields stored under ``out[group]`` (one object per counting line); ``cut`` makes
    the error for a value running past the end.
    """
    size, unpack = run.size, run.unpack
    if len(keys) == 1:
        (key,) = keys

        def read_one(payload: bytes, pos: int, length: int, out: dict[str, Any]) -> int:
            end = pos + size
            if end > length:
                raise cut(payload, pos)
            target = out.get(group)
            if target is None:
                target = out[group] = {}
            target[key] = unpack(payload, pos)[0]
            return end

        return read_one
    first, second = keys

    def read_two(payload: bytes, pos: int, length: int, out: dict[str, Any]) -> int:
        end = pos + size
        if end > length:
            raise cut(payload, pos)
        target = out.get(group)
        if target is None:
            target = out[group] = {}
        target[first], target[second] = unpack(payload, pos)
        return end

    return read_two


def built(run: Layout, build: Build) -> Item:
    """An item whose keys and values ``build`` derives from its fields."""
    size, unpack = run.size, run.unpack

    def read(payload: bytes, pos: int, length: int, out: dict[str, Any]) -> int:
        end = pos + size
        if end > length:
            raise truncated(run, payload, pos)
        out.update(build(unpack(payload, pos)))
        return end

    return read


def line_counters() -> list[tuple[int, int, int, tuple[str, ...]]]:
    """``(channel, channel type, line, value keys)`` of every line-counter item, totals then periods."""
    return [
        *((channel, TYPE_TOTAL, line, ("total_in",)) for channel, line in TOTAL_IN.items()),
        *((channel, TYPE_TOTAL, line, ("total_out",)) for channel, line in TOTAL_OUT.items()),
        *((channel, TYPE_PERIOD, line, ("period_in", "period_out")) for channel, line in PERIOD.items()),
    ]


def frame_decoder(
    model: str,
    items: dict[int, Item],
    *,
    replies: Collection[int] = (),
    cut_header: Callable[[int], str],
) -> Callable[[int, bytes], DecodeResult]:
    """The ``decode(f_port, payload)`` of a model whose items ``items`` holds.

    An unknown item stops the walk with a warning (the vendors' codecs stop there too), except on a channel of
    ``replies``, where it is an error; ``cut_header(pos)`` is the error for a frame ending inside an item's header.
    The walk is built once per model, with the tables at hand, because it runs for every uplink.
    """
    known_ports = (PORT,)

    def decode(f_port: int, payload: bytes) -> DecodeResult:
        if f_port != PORT:
            return unknown_port(f_port, known_ports)
        payload = bytes(payload)
        data: dict[str, Any] = {}
        warnings: list[str] = []
        pos, end = 0, len(payload)
        try:
            while pos < end:
                if pos + 2 > end:
                    raise FrameError(cut_header(pos))  # noqa: TRY301 - the readers raise it too; one except below
                channel, kind = payload[pos], payload[pos + 1]
                read = items.get(channel << 8 | kind)  # header(channel, kind), inline
                if read is not None:
                    pos = read(payload, pos + 2, end, data)
                elif channel in replies:
                    raise FrameError(f"unknown downlink reply 0x{channel:02x} 0x{kind:02x} at byte {pos}")  # noqa: TRY301
                else:
                    warnings.append(f"unknown channel 0x{channel:02x} 0x{kind:02x} at byte {pos}; rest ignored")
                    break
        except FrameError as exc:
            return fail(str(exc))
        if not data:
            return fail(warnings[0] if warnings else "the frame carries no readings")
        return ok(data, warnings)

    decode.__doc__ = f"Decode one {model} uplink (fPort {PORT})."
    return decode


_COUNTS = struct.Struct("<BBIBBIBBHH")


def encode_counts(total_in: int, total_out: int, period_in: int, period_out: int, *, line: int = 1) -> bytes:
    """The items of one counting line (1..4): cumulative in and out (wrapping at 2³², as the counter's do),
    then in and out of the last period (clipped to 65535); the same bytes on the VS133 and the VS135.
    """
    base = 3 * (line - 1)
    return _COUNTS.pack(
        0x03 + base, TYPE_TOTAL, total_in % 2**32, 0x04 + base, TYPE_TOTAL, total_out % 2**32,
        0x05 + base, TYPE_PERIOD, min(period_in, 65535), min(period_out, 65535),
    )
