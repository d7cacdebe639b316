"""Codecs: native ones, one module per device model registered by plain import, and vendor JavaScript codecs.

Each native module has ``decode(f_port, payload) -> DecodeResult`` and ``encode(f_port, data) -> bytes``.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from devices.catalog import DeviceModel

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


def codec_for(model: DeviceModel) -> Codec:
    """The codec a catalog entry names: its native module, or its JavaScript file run in the sandbox."""
    if model.codec:
        return native_codec(model.codec)
    from devices.jscodec import JsCodec  # only deployments with JS codecs pay for the engine

    assert model.codec_js is not None
    return JsCodec(model.codec_js)


__all__ = ["NATIVE_CODECS", "Codec", "CodecError", "DecodeResult", "EncodingCodec", "codec_for", "native_codec"]
