"""Codecs: native ones, one module per device model registered by plain import, and vendor JavaScript codecs.

Each native module has ``decode(f_port, payload) -> DecodeResult`` and ``encode(f_port, data) -> bytes``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from devices.codecs import cayenne_lpp
from devices.codecs.base import Codec, CodecError, DecodeResult, EncodingCodec

if TYPE_CHECKING:
    from devices.catalog import DeviceModel

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


def codec_for(model: DeviceModel) -> Codec:
    """The codec a catalog entry names: its native module, or its JavaScript file run in the sandbox."""
    if model.codec:
        return native_codec(model.codec)
    from devices.jscodec import JsCodec  # only deployments with JS codecs pay for the engine

    assert model.codec_js is not None
    return JsCodec(model.codec_js)  # type: ignore[no-any-return]


__all__ = ["NATIVE_CODECS", "Codec", "CodecError", "DecodeResult", "EncodingCodec", "codec_for", "native_codec"]
