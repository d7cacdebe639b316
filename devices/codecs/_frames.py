"""Small pieces the native codecs share: integer reads, fPort checks and the encode round-trip guard."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from devices.codecs.base import CodecError, DecodeResult, fail

TOLERANCE = 1e-9  # floats closer than this are equal (the TTN Device Repository compares to 1e-9)


def unknown_port(f_port: int, known: Iterable[int]) -> DecodeResult:
    """The error for an uplink on an fPort the model does not use."""
    ports = ", ".join(str(p) for p in sorted(known))
    return fail(f"unknown fPort {f_port}; this model sends on fPort {ports}")


# struct format characters of the integer fields frames carry, by (width in bytes, signed); struct has none for
# 3 bytes, so codecs read those fields their own way.
STRUCT_CODES = {(1, False): "B", (1, True): "b", (2, False): "H", (2, True): "h", (4, False): "I", (4, True): "i"}


def too_short(what: str, payload: bytes, needed: int) -> DecodeResult:
    """The error for a frame shorter than its layout."""
    return fail(f"{what} needs {needed} bytes, got {len(payload)}")


def uint(raw: bytes, *, little: bool = False) -> int:
    """An unsigned integer from ``raw`` (big-endian unless ``little``)."""
    return int.from_bytes(raw, "little" if little else "big")


def sint(raw: bytes, *, little: bool = False) -> int:
    """A two's complement signed integer from ``raw`` (big-endian unless ``little``)."""
    return int.from_bytes(raw, "little" if little else "big", signed=True)


def pack(value: Any, size: int, what: str, *, signed: bool = False, little: bool = False) -> bytes:
    """``value`` as ``size`` bytes.

    Raises:
        CodecError: the value is not an integer or does not fit.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise CodecError(f"{what} must be an integer, got {value!r}")
    try:
        return value.to_bytes(size, "little" if little else "big", signed=signed)
    except OverflowError as exc:
        raise CodecError(f"{what}={value} does not fit in {size} byte(s)") from exc


def scaled(value: Any, divisor: float, what: str, *, offset: float = 0.0) -> int:
    """The raw integer ``r`` with ``r / divisor + offset == value`` (rounded to the nearest step).

    Raises:
        CodecError: ``value`` is not a finite number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CodecError(f"{what} must be a finite number, got {value!r}")
    return round((float(value) - offset) * divisor)


def approx_equal(left: Any, right: Any) -> bool:
    """Deep equality where numbers may differ by :data:`TOLERANCE` (booleans and numbers never mix)."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float) and isinstance(right, int | float):
        return math.isclose(left, right, rel_tol=0.0, abs_tol=TOLERANCE)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(approx_equal(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(approx_equal(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


def verified(decode: Callable[[int, bytes], DecodeResult], f_port: int, data: dict[str, Any], frame: bytes) -> bytes:
    """``frame`` if it decodes back to ``data``.

    Raises:
        CodecError: the data is not something the device can send (it would decode differently).
    """
    result = decode(f_port, frame)
    if result["errors"]:
        raise CodecError(f"cannot encode {data!r} on fPort {f_port}: {result['errors'][0]}")
    if not approx_equal(result["data"], data):
        nearest = result["data"]
        raise CodecError(f"the device cannot send {data!r} on fPort {f_port}; the frame gives {nearest!r}")
    return frame
