"""Native codecs, one module per device model, registered by plain import.

Each module has ``decode(f_port, payload) -> DecodeResult`` and ``encode(f_port, data) -> bytes``.
"""

from __future__ import annotations

from types import ModuleType

from devices.codecs import cayenne_lpp
from devices.codecs.base import Codec, CodecError, DecodeResult, EncodingCodec

NATIVE_CODECS: dict[str, ModuleType] = {
    "cayenne_lpp": cayenne_lpp,
}


def native_codec(name: str) -> EncodingCodec:
    """The native codec called ``name``.

    Raises:
        KeyError: no native codec has that name.
    """
    module = NATIVE_CODECS.get(name)
    if module is None:
        raise KeyError(f"unknown native codec {name!r}; known: {', '.join(sorted(NATIVE_CODECS))}")
    return module  # type: ignore[return-value]


__all__ = ["NATIVE_CODECS", "Codec", "CodecError", "DecodeResult", "EncodingCodec", "native_codec"]
