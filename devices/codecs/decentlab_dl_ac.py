"""Decentlab DL-AC air quality station: NO2, NO, Ox and CO (Alphasense electrochemical cells), air temperature
and humidity.

Keys and values follow the vendor decoder (``DL-AC/DL-AC (NO2_WE_0=256,...).js`` in the vendor's
``decentlab/decentlab-decoders`` repository): every reading is ``{"displayName", "value", "unit"}``. Frame:
Decentlab protocol 2 (:mod:`devices.codecs._decentlab`), on fPort 1; per set flag bit a run of uint16 words:

* bit 0, 2 words: air temperature 175.72·x/65536 − 46.85 °C, humidity 125·x/65536 − 6 %;
* bits 1-4, 2 words each, one gas cell per bit (ADC channels CH4 NO2, CH5 NO, CH6 Ox, CH7 CO): the working
  electrode ``we`` and the difference working − auxiliary electrode ``we-aux``, both 3000·(x/32768 − 1) mV;
  from them the concentrations (ppb) ``(we − WE_0) / S`` and ``(we-aux − WE_0 + AUX_0) / S``;
* bit 5, 1 word: battery voltage, x/1000 V.

The concentrations need each cell's calibration (zero offsets ``WE_0``, ``AUX_0`` in mV, sensitivity ``S`` in
mV/ppb), which Decentlab prints on the sheet of every station. The vendor decoder names the parameters of
its published example (:data:`CALIBRATION`); this codec uses them, so a station with other cells needs a
codec with its own sheet. ``we-aux`` compensates the cell's zero drift; ``we`` alone does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devices.codecs._decentlab import (
    AIR,
    BATTERY,
    PROTOCOL_VERSION,
    DecentlabCodec,
    Reading,
    Sensor,
    Write,
    air_humidity_word,
    air_temperature_word,
    battery_word,
    clipped_word,
    frame,
)
from devices.codecs._frames import scaled
from devices.codecs.base import DecodeResult

PORT = 1
FULL_SCALE = 3000.0  # mV: a word x reads 3000·(x/32768 − 1) mV
MIDSCALE = 32768  # the word of 0 mV

__all__ = [
    "CALIBRATION",
    "FULL_SCALE",
    "MIDSCALE",
    "PORT",
    "PROTOCOL_VERSION",
    "Calibration",
    "decode",
    "encode",
    "encode_reading",
    "millivolts",
]


@dataclass(frozen=True)
class Calibration:
    """One electrochemical cell's calibration: zero offsets (mV) and sensitivity (mV/ppb)."""

    we_zero: float  # WE_0, mV
    sensitivity: float  # S, mV/ppb
    aux_zero: float  # AUX_0, mV


CALIBRATION: dict[str, Calibration] = {  # the vendor decoder's published parameters
    "no2": Calibration(we_zero=256, sensitivity=0.256, aux_zero=227),
    "no": Calibration(we_zero=320, sensitivity=0.512, aux_zero=288),
    "ox": Calibration(we_zero=235, sensitivity=0.345, aux_zero=200),
    "co": Calibration(we_zero=544, sensitivity=0.424, aux_zero=301),
}


def millivolts(x: int) -> float:
    """The voltage (mV) of a raw ADC word.

    The vendor writes ``3 * (x / 32768 - 1) * 1000``; for a word every step of that is exact in binary floating
    point, so this shorter form gives the same float for each of the 65536 words.
    """
    return (x - MIDSCALE) * FULL_SCALE / MIDSCALE


def _millivolt_word(name: str) -> Write:
    return lambda v: scaled(v, MIDSCALE / FULL_SCALE, name, offset=-FULL_SCALE)


def _gas(channel: int, gas: str, label: str) -> Sensor:
    """One gas cell: two words (``we``, ``we-aux``), each read as a voltage and as a concentration."""
    cal = CALIBRATION[gas]
    we_zero, aux_zero, sensitivity = cal.we_zero, cal.aux_zero, cal.sensitivity
    prefix, title = f"ch{channel}_{gas}", f"CH{channel}: {label}"

    def we_ppb(x: int) -> float:
        return (millivolts(x) - we_zero) / sensitivity

    def we_aux_ppb(x: int) -> float:
        return (millivolts(x) - we_zero + aux_zero) / sensitivity

    readings = (
        Reading(f"{prefix}_we", f"{title} (we)", "mV", millivolts, word=0),
        Reading(f"{prefix}_we_aux", f"{title} (we-aux)", "mV", millivolts, word=1),
        Reading(f"{prefix}_concentration_we", f"{title} concentration (we)", "ppb", we_ppb, word=0),
        Reading(f"{prefix}_concentration_we_aux", f"{title} concentration (we-aux)", "ppb", we_aux_ppb, word=1),
    )
    (k_we, d_we), (k_aux, d_aux), (k_ppb, d_ppb), (k_ppb_aux, d_ppb_aux) = ((r.name, r.display_name) for r in readings)

    def emit(words: tuple[int, ...], offset: int, data: dict[str, Any]) -> None:
        """The four readings at once, each voltage computed once. The formulas of :func:`millivolts`, ``we_ppb``
        and ``we_aux_ppb`` are written out here because calling them costs about 12 % of a full frame;
        ``test_decentlab_one_call_emit_matches_reading_by_reading`` holds the two forms equal.
        """
        we = (words[offset] - MIDSCALE) * FULL_SCALE / MIDSCALE
        we_aux = (words[offset + 1] - MIDSCALE) * FULL_SCALE / MIDSCALE
        data[k_we] = {"displayName": d_we, "value": we, "unit": "mV"}
        data[k_aux] = {"displayName": d_aux, "value": we_aux, "unit": "mV"}
        data[k_ppb] = {"displayName": d_ppb, "value": (we - we_zero) / sensitivity, "unit": "ppb"}
        ppb_aux = (we_aux - we_zero + aux_zero) / sensitivity
        data[k_ppb_aux] = {"displayName": d_ppb_aux, "value": ppb_aux, "unit": "ppb"}

    return Sensor(
        readings=readings,
        words=(
            (f"{prefix}_we", _millivolt_word(f"{prefix}_we")),
            (f"{prefix}_we_aux", _millivolt_word(f"{prefix}_we_aux")),
        ),
        emit=emit,
    )


_CODEC = DecentlabCodec(
    "DL-AC",
    PORT,
    (AIR, _gas(4, "no2", "NO2"), _gas(5, "no", "NO"), _gas(6, "ox", "Ox"), _gas(7, "co", "CO"), BATTERY),
)


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one DL-AC uplink."""
    return _CODEC.decode(f_port, payload)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode DL-AC readings as one protocol-2 frame (inverse of :func:`decode`).

    The raw words come from the voltages (and temperature, humidity, battery); the concentrations in
    ``data`` must be the ones those words give with :data:`CALIBRATION`.

    Raises:
        CodecError: wrong fPort, an incomplete sensor group, or a value the station cannot report.
    """
    return _CODEC.encode(f_port, data)


GASES = ("no2", "no", "ox", "co")  # the cells of flag bits 1..4
ALL_SENSORS = 0b111111  # temperature and humidity, the four cells, battery


def adc_word(mv: float) -> int:
    """The ADC word of a voltage (mV), clipped to the converter's range (inverse of :func:`millivolts`)."""
    return clipped_word((mv + FULL_SCALE) * MIDSCALE / FULL_SCALE)


def _cell_words(gas: str, ppb: float, aux_drift_mv: float) -> tuple[int, int]:
    """The ``we`` and ``we-aux`` words of a cell seeing ``ppb``, with :data:`CALIBRATION` and its auxiliary
    electrode ``aux_drift_mv`` off its zero.
    """
    cal = CALIBRATION[gas]
    we_aux = adc_word(cal.we_zero - cal.aux_zero + cal.sensitivity * ppb)
    aux = cal.aux_zero + aux_drift_mv
    return adc_word(aux + millivolts(we_aux)), we_aux


def encode_reading(
    device_id: int,
    *,
    temperature: float,
    humidity: float,
    ppb: Mapping[str, float],
    battery_voltage: float,
    aux_drift_mv: Mapping[str, float] | None = None,
) -> bytes:
    """The fPort 1 frame of one reading of every sensor.

    Args:
        device_id: the station's id, 0..65535.
        temperature: air temperature, °C.
        humidity: relative humidity, %.
        ppb: per gas of :data:`GASES`, the concentration (ppb) the ``we-aux`` word gives with :data:`CALIBRATION`.
        battery_voltage: V (mV steps).
        aux_drift_mv: per gas, how far (mV) the auxiliary electrode is off its zero ``AUX_0`` (a cell's zero moves
            with temperature; ``we`` alone then reads a different concentration than ``we-aux``). Default 0.

    Values outside a word's range are clipped, as the station's registers are.
    """
    drift = aux_drift_mv or {}
    words = [air_temperature_word(temperature), air_humidity_word(humidity)]
    for gas in GASES:
        words += _cell_words(gas, ppb[gas], drift.get(gas, 0.0))
    words.append(battery_word(battery_voltage))
    return frame(device_id, ALL_SENSORS, words)
