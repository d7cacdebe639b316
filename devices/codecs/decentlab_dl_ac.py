"""Decentlab DL-AC air quality station: NO2, NO, Ox and CO (Alphasense electrochemical cells), air temperature
and humidity.

Keys and values follow the vendor decoder (``DL-AC/DL-AC (NO2_WE_0=256,...).js`` in the vendor's
``decentlab/decentlab-decoders`` repository): every reading is ``{"displayName", "value", "unit"}``. Frame
(protocol 2, big-endian): version byte, device id (uint16), flags (uint16), then for each set flag bit a run
of uint16 words:

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devices.codecs._frames import pack, scaled, too_short, uint, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PORT = 1
PROTOCOL_VERSION = 2
HEADER_SIZE = 5  # version, device id, flags
FULL_SCALE = 3000.0  # mV: a word x reads 3000·(x/32768 − 1) mV
MIDSCALE = 32768  # the word of 0 mV


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


@dataclass(frozen=True)
class _Value:
    name: str
    display_name: str
    unit: str
    word: int  # which word of the sensor's run the value is read from
    read: Callable[[int], float]


@dataclass(frozen=True)
class _Sensor:
    values: tuple[_Value, ...]
    writers: tuple[tuple[str, Callable[[Any], int]], ...]  # per word: the reading it is written from


def millivolts(x: int) -> float:
    """The voltage (mV) of a raw ADC word."""
    return 3 * (x / 32768 - 1) * 1000


def _millivolt_word(name: str) -> Callable[[Any], int]:
    return lambda v: scaled(v, MIDSCALE / FULL_SCALE, name, offset=-FULL_SCALE)


def _gas(channel: int, gas: str, label: str) -> _Sensor:
    cal = CALIBRATION[gas]
    prefix, title = f"ch{channel}_{gas}", f"CH{channel}: {label}"

    def we_ppb(x: int) -> float:
        return (millivolts(x) - cal.we_zero) / cal.sensitivity

    def we_aux_ppb(x: int) -> float:
        return (millivolts(x) - cal.we_zero + cal.aux_zero) / cal.sensitivity

    return _Sensor(
        values=(
            _Value(f"{prefix}_we", f"{title} (we)", "mV", 0, millivolts),
            _Value(f"{prefix}_we_aux", f"{title} (we-aux)", "mV", 1, millivolts),
            _Value(f"{prefix}_concentration_we", f"{title} concentration (we)", "ppb", 0, we_ppb),
            _Value(f"{prefix}_concentration_we_aux", f"{title} concentration (we-aux)", "ppb", 1, we_aux_ppb),
        ),
        writers=(
            (f"{prefix}_we", _millivolt_word(f"{prefix}_we")),
            (f"{prefix}_we_aux", _millivolt_word(f"{prefix}_we_aux")),
        ),
    )


_SENSORS: tuple[_Sensor, ...] = (
    _Sensor(
        values=(
            _Value("air_temperature", "Air temperature", "°C", 0, lambda x: 175.72 * x / 65536 - 46.85),
            _Value("air_humidity", "Air humidity", "%", 1, lambda x: 125 * x / 65536 - 6),
        ),
        writers=(
            ("air_temperature", lambda v: scaled(v, 65536 / 175.72, "air_temperature", offset=-46.85)),
            ("air_humidity", lambda v: scaled(v, 65536 / 125, "air_humidity", offset=-6)),
        ),
    ),
    _gas(4, "no2", "NO2"),
    _gas(5, "no", "NO"),
    _gas(6, "ox", "Ox"),
    _gas(7, "co", "CO"),
    _Sensor(
        values=(_Value("battery_voltage", "Battery voltage", "V", 0, lambda x: x / 1000),),
        writers=(("battery_voltage", lambda v: scaled(v, 1000, "battery_voltage")),),
    ),
)
KNOWN_FLAGS = (1 << len(_SENSORS)) - 1


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one DL-AC uplink."""
    if f_port != PORT:
        return unknown_port(f_port, (PORT,))
    payload = bytes(payload)
    if len(payload) < 1:
        return too_short("Decentlab frame", payload, HEADER_SIZE)
    if payload[0] != PROTOCOL_VERSION:
        return fail(f"protocol version {payload[0]} doesn't match v2")
    if len(payload) < HEADER_SIZE:
        return too_short("Decentlab frame", payload, HEADER_SIZE)
    flags = uint(payload[3:5])
    data: dict[str, Any] = {"protocol_version": PROTOCOL_VERSION, "device_id": uint(payload[1:3])}
    pos = HEADER_SIZE
    for bit, sensor in enumerate(_SENSORS):
        if not flags >> bit & 1:
            continue
        size = 2 * len(sensor.writers)
        if pos + size > len(payload):
            return fail(f"truncated: flag bit {bit} needs {size} bytes at byte {pos}")
        words = [uint(payload[pos + 2 * i : pos + 2 * i + 2]) for i in range(len(sensor.writers))]
        for value in sensor.values:
            data[value.name] = {
                "displayName": value.display_name,
                "value": value.read(words[value.word]),
                "unit": value.unit,
            }
        pos += size
    warnings = []
    if flags & ~KNOWN_FLAGS:
        warnings.append(f"flag bits 0x{flags & ~KNOWN_FLAGS:04x} are not DL-AC sensors; ignored")
    if pos < len(payload):
        warnings.append(f"{len(payload) - pos} trailing bytes ignored")
    return ok(data, warnings)


def _word(name: str, write: Callable[[Any], int], reading: Any) -> bytes:
    if not isinstance(reading, dict) or "value" not in reading:
        raise CodecError(f"{name} must be a reading {{displayName, value, unit}}, got {reading!r}")
    return pack(write(reading["value"]), 2, name)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode DL-AC readings as one protocol-2 frame (inverse of :func:`decode`).

    The raw words come from the voltages (and temperature, humidity, battery); the concentrations in
    ``data`` must be the ones those words give with :data:`CALIBRATION`.

    Raises:
        CodecError: wrong fPort, an incomplete sensor group, or a value the station cannot report.
    """
    if f_port != PORT:
        raise CodecError(f"unknown fPort {f_port}; the DL-AC sends on fPort {PORT}")
    flags, body = 0, b""
    for bit, sensor in enumerate(_SENSORS):
        present = [value.name in data for value in sensor.values]
        if any(present) and not all(present):
            missing = [value.name for value in sensor.values if value.name not in data]
            raise CodecError(f"incomplete sensor group: missing {missing}")
        if all(present):
            flags |= 1 << bit
            body += b"".join(_word(name, write, data[name]) for name, write in sensor.writers)
    header = bytes([PROTOCOL_VERSION]) + pack(data.get("device_id"), 2, "device_id") + pack(flags, 2, "flags")
    return verified(decode, f_port, data, header + body)
