"""Codecs: native ones, one module per device model registered by plain import, and vendor JavaScript codecs.

Each native module has ``decode(f_port, payload) -> DecodeResult`` and ``encode(f_port, data) -> bytes`` (its
inverse), and the models the simulator sends have ``encode_*`` functions that turn physical values into the
frame the device's firmware sends (``nwave_nps405.encode_heartbeat(occupied, battery_voltage, temperature)``).
Families that share a framing keep it in one private module: ``_decentlab`` (protocol 2), ``_milesight``
(channel/type items of the VS133 and VS135).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Protocol

from devices.codecs import (
    bosch_tps110,
    cayenne_lpp,
    decentlab_dl_ac,
    decentlab_dl_pm,
    elsys_ers_co2,
    imbuildings_people_counter,
    milesight_vs133,
    milesight_vs135,
    nwave_nps405,
)
from devices.codecs.base import Codec, CodecError, DecodeResult, EncodingCodec


class CodecChoice(Protocol):
    """What names a model's codec: a native codec's name, or a JavaScript file (a catalog entry has both)."""

    @property
    def codec(self) -> str | None: ...

    @property
    def codec_js(self) -> Path | None: ...

NATIVE_CODECS: dict[str, ModuleType] = {
    "cayenne_lpp": cayenne_lpp,
    "nwave_nps405": nwave_nps405,
    "bosch_tps110": bosch_tps110,
    "milesight_vs133": milesight_vs133,
    "milesight_vs135": milesight_vs135,
    "imbuildings_people_counter": imbuildings_people_counter,
    "decentlab_dl_pm": decentlab_dl_pm,
    "decentlab_dl_ac": decentlab_dl_ac,
    "elsys_ers_co2": elsys_ers_co2,
}


def native_codec(name: str) -> EncodingCodec:
    """The native codec called ``name``.

    Raises:
        KeyError: no native codec has that name.
    """
    module = NATIVE_CODECS.get(name)
    if module is None:
        raise KeyError(f"unknown native codec {name!r}; known: {', '.join(sorted(NATIVE_CODECS))}")
    return module


_JS_CODECS: dict[Path, Codec] = {}  # compiled JavaScript codecs by file, one per catalog entry at most


def codec_for(model: CodecChoice) -> Codec:
    """The codec a catalog entry names: its native module, or its JavaScript file run in the sandbox.

    A JavaScript file is compiled once per process (when the catalog loads) and the codec reused after.

    Raises:
        KeyError: the native codec does not exist.
        devices.jscodec.JsCodecError: the JavaScript file cannot be read, does not compile or has no decoder.
    """
    if model.codec:
        return native_codec(model.codec)
    assert model.codec_js is not None
    path = model.codec_js.resolve()
    codec = _JS_CODECS.get(path)
    if codec is None:
        from devices.jscodec import JsCodec  # only deployments with JS codecs pay for the engine

        codec = _JS_CODECS[path] = JsCodec(path)
    return codec


__all__ = ["NATIVE_CODECS", "Codec", "CodecError", "DecodeResult", "EncodingCodec", "codec_for", "native_codec"]
