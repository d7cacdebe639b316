"""What every codec returns, native or JavaScript: ``{"data": ..., "warnings": [...], "errors": [...]}``."""

from __future__ import annotations

from typing import Any, Protocol, TypedDict

from stadtpuls.errors import DataError


class DecodeResult(TypedDict):
    """The TTN Device Repository's result shape. Bad bytes are an ``errors`` entry, never an exception."""

    data: dict[str, Any]
    warnings: list[str]
    errors: list[str]


class Codec(Protocol):
    """A payload codec for one device model."""

    def decode(self, f_port: int, payload: bytes) -> DecodeResult:
        """Decode one uplink's FRMPayload sent on ``f_port``."""
        ...


class EncodingCodec(Codec, Protocol):
    """A codec that can also encode (native codecs; the simulator uses ``encode``)."""

    def encode(self, f_port: int, data: dict[str, Any]) -> bytes:
        """Encode ``data`` as the device's firmware would on ``f_port``; inverse of ``decode``."""
        ...


class CodecError(DataError, ValueError):
    """Raised by ``encode`` for data a device could not send (decoders return ``errors`` instead)."""


def ok(data: dict[str, Any], warnings: list[str] | None = None) -> DecodeResult:
    """A successful result."""
    return {"data": data, "warnings": warnings or [], "errors": []}


def fail(message: str) -> DecodeResult:
    """A failed result naming what is wrong."""
    return {"data": {}, "warnings": [], "errors": [message]}
