"""Decentlab DL-PM: particulate matter, air temperature / humidity and barometric pressure.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/decentlab/dl-pm.js``):
every reading is ``{"displayName", "value"[, "unit"]}``. Frame: Decentlab protocol 2
(:mod:`devices.codecs._decentlab`), on fPort 1; per set flag bit a run of uint16 words:

* bit 0, 1 word: battery voltage, x/1000 V;
* bit 1, 10 words: PM1.0 / 2.5 / 4 / 10 mass (x/10 µg/m³), typical particle size (nm), PM0.5 / 1.0 / 2.5 /
  4 / 10 number concentration (x/10 per cm³);
* bit 2, 2 words: air temperature 175.72·x/65536 − 46.85 °C, humidity 125·x/65536 − 6 %;
* bit 3, 1 word: barometric pressure, 2·x Pa.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from devices.codecs._decentlab import (
    AIR,
    BATTERY,
    PROTOCOL_VERSION,
    DecentlabCodec,
    Reading,
    Write,
    air_humidity_word,
    air_temperature_word,
    battery_word,
    clipped_word,
    frame,
    one_per_word,
)
from devices.codecs._frames import scaled
from devices.codecs.base import CodecError, DecodeResult

PORT = 1
MASS = "µg⋅m⁻³"

__all__ = ["MASS", "PORT", "PROTOCOL_VERSION", "decode", "encode", "encode_reading"]


def _tenths(name: str, display: str, unit: str | None) -> tuple[Reading, Write]:
    return Reading(name, display, unit, lambda x: x / 10), lambda v: scaled(v, 10, name)


def _pressure_word(value: Any) -> int:
    raw = scaled(value, 0.5, "barometric_pressure")
    if raw * 2 != value:
        raise CodecError(f"barometric_pressure must be an even number of Pa, got {value!r}")
    return raw


_PARTICLES = one_per_word(
    _tenths("pm1_0_mass_concentration", "PM1.0 mass concentration", MASS),
    _tenths("pm2_5_mass_concentration", "PM2.5 mass concentration", MASS),
    _tenths("pm4_mass_concentration", "PM4 mass concentration", MASS),
    _tenths("pm10_mass_concentration", "PM10 mass concentration", MASS),
    (
        Reading("typical_particle_size", "Typical particle size", "nm", lambda x: x),
        lambda v: scaled(v, 1, "typical_particle_size"),
    ),
    _tenths("pm0_5_number_concentration", "PM0.5 number concentration", None),
    _tenths("pm1_0_number_concentration", "PM1.0 number concentration", None),
    _tenths("pm2_5_number_concentration", "PM2.5 number concentration", None),
    _tenths("pm4_number_concentration", "PM4 number concentration", None),
    _tenths("pm10_number_concentration", "PM10 number concentration", None),
)
_PRESSURE = one_per_word(
    (Reading("barometric_pressure", "Barometric pressure", "Pa", lambda x: x * 2), _pressure_word),
)
_CODEC = DecentlabCodec("DL-PM", PORT, (BATTERY, _PARTICLES, AIR, _PRESSURE))


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one DL-PM uplink."""
    return _CODEC.decode(f_port, payload)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode DL-PM readings as one protocol-2 frame (inverse of :func:`decode`).

    Raises:
        CodecError: wrong fPort, an incomplete sensor group, or a value the sensor cannot report.
    """
    return _CODEC.encode(f_port, data)


ALL_SENSORS = 0b1111  # battery, particles, temperature and humidity, pressure


def encode_reading(
    device_id: int,
    *,
    battery_voltage: float,
    mass: Sequence[float],
    particle_size: float,
    number: Sequence[float],
    temperature: float,
    humidity: float,
    pressure: float,
) -> bytes:
    """The fPort 1 frame of one reading of every sensor.

    Args:
        device_id: the station's id, 0..65535.
        battery_voltage: V (mV steps).
        mass: PM1.0, PM2.5, PM4, PM10 mass concentration, µg/m³ (0.1 steps).
        particle_size: typical particle size, nm.
        number: PM0.5, PM1.0, PM2.5, PM4, PM10 number concentration, per cm³ (0.1 steps).
        temperature: air temperature, °C.
        humidity: relative humidity, %.
        pressure: barometric pressure, Pa (2 Pa steps).

    Values outside a word's range are clipped, as the station's registers are.

    Raises:
        CodecError: not four mass or five number concentrations, or a device id out of range.
    """
    if len(mass) != 4 or len(number) != 5:
        raise CodecError(f"needs 4 mass and 5 number concentrations, got {len(mass)} and {len(number)}")
    words = [battery_word(battery_voltage)]
    words += [clipped_word(value * 10) for value in mass]
    words.append(clipped_word(particle_size))
    words += [clipped_word(value * 10) for value in number]
    words += [air_temperature_word(temperature), air_humidity_word(humidity), clipped_word(pressure / 2)]
    return frame(device_id, ALL_SENSORS, words)
