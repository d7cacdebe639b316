"""Decentlab DL-PM: particulate matter, air temperature / humidity and barometric pressure.

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/decentlab/dl-pm.js``):
every reading is ``{"displayName", "value"[, "unit"]}``. Frame (protocol 2, big-endian): version byte,
device id (uint16), flags (uint16), then for each set flag bit a run of uint16 words:

* bit 0, 1 word: battery voltage, x/1000 V;
* bit 1, 10 words: PM1.0 / 2.5 / 4 / 10 mass (x/10 µg/m³), typical particle size (nm), PM0.5 / 1.0 / 2.5 /
  4 / 10 number concentration (x/10 per cm³);
* bit 2, 2 words: air temperature 175.72·x/65536 − 46.85 °C, humidity 125·x/65536 − 6 %;
* bit 3, 1 word: barometric pressure, 2·x Pa.
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
MASS = "µg⋅m⁻³"


@dataclass(frozen=True)
class _Value:
    name: str
    display_name: str
    unit: str | None
    read: Callable[[int], float]
    write: Callable[[Any], int]  # reading value → raw word


def _tenths(name: str, display: str, unit: str | None) -> _Value:
    return _Value(name, display, unit, lambda x: x / 10, lambda v: scaled(v, 10, name))


def _temperature(x: int) -> float:
    return 175.72 * x / 65536 - 46.85


def _humidity(x: int) -> float:
    return 125 * x / 65536 - 6


def _pressure_word(value: Any) -> int:
    raw = scaled(value, 0.5, "barometric_pressure")
    if raw * 2 != value:
        raise CodecError(f"barometric_pressure must be an even number of Pa, got {value!r}")
    return raw


_SENSORS: tuple[tuple[_Value, ...], ...] = (
    (
        _Value(
            "battery_voltage", "Battery voltage", "V", lambda x: x / 1000, lambda v: scaled(v, 1000, "battery_voltage")
        ),
    ),
    (
        _tenths("pm1_0_mass_concentration", "PM1.0 mass concentration", MASS),
        _tenths("pm2_5_mass_concentration", "PM2.5 mass concentration", MASS),
        _tenths("pm4_mass_concentration", "PM4 mass concentration", MASS),
        _tenths("pm10_mass_concentration", "PM10 mass concentration", MASS),
        _Value(
            "typical_particle_size",
            "Typical particle size",
            "nm",
            lambda x: x,
            lambda v: scaled(v, 1, "typical_particle_size"),
        ),
        _tenths("pm0_5_number_concentration", "PM0.5 number concentration", None),
        _tenths("pm1_0_number_concentration", "PM1.0 number concentration", None),
        _tenths("pm2_5_number_concentration", "PM2.5 number concentration", None),
        _tenths("pm4_number_concentration", "PM4 number concentration", None),
        _tenths("pm10_number_concentration", "PM10 number concentration", None),
    ),
    (
        _Value(
            "air_temperature",
            "Air temperature",
            "°C",
            _temperature,
            lambda v: scaled(v, 65536 / 175.72, "air_temperature", offset=-46.85),
        ),
        _Value(
            "air_humidity", "Air humidity", "%", _humidity, lambda v: scaled(v, 65536 / 125, "air_humidity", offset=-6)
        ),
    ),
    (_Value("barometric_pressure", "Barometric pressure", "Pa", lambda x: x * 2, _pressure_word),),
)
KNOWN_FLAGS = (1 << len(_SENSORS)) - 1


def _reading(value: _Value, raw: int) -> dict[str, Any]:
    reading: dict[str, Any] = {"displayName": value.display_name, "value": value.read(raw)}
    if value.unit is not None:
        reading["unit"] = value.unit
    return reading


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one DL-PM uplink."""
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
        end = pos + 2 * len(sensor)
        if end > len(payload):
            return fail(f"truncated: flag bit {bit} needs {2 * len(sensor)} bytes at byte {pos}")
        for index, value in enumerate(sensor):
            data[value.name] = _reading(value, uint(payload[pos + 2 * index : pos + 2 * index + 2]))
        pos = end
    warnings = []
    if flags & ~KNOWN_FLAGS:
        warnings.append(f"flag bits 0x{flags & ~KNOWN_FLAGS:04x} are not DL-PM sensors; ignored")
    if pos < len(payload):
        warnings.append(f"{len(payload) - pos} trailing bytes ignored")
    return ok(data, warnings)


def _word(value: _Value, reading: Any) -> bytes:
    if not isinstance(reading, dict) or "value" not in reading:
        raise CodecError(f"{value.name} must be a reading {{displayName, value[, unit]}}, got {reading!r}")
    return pack(value.write(reading["value"]), 2, value.name)


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode DL-PM readings as one protocol-2 frame (inverse of :func:`decode`).

    Raises:
        CodecError: wrong fPort, an incomplete sensor group, or a value the sensor cannot report.
    """
    if f_port != PORT:
        raise CodecError(f"unknown fPort {f_port}; the DL-PM sends on fPort {PORT}")
    flags, body = 0, b""
    for bit, sensor in enumerate(_SENSORS):
        present = [value.name in data for value in sensor]
        if any(present) and not all(present):
            missing = [value.name for value in sensor if value.name not in data]
            raise CodecError(f"incomplete sensor group: missing {missing}")
        if all(present):
            flags |= 1 << bit
            body += b"".join(_word(value, data[value.name]) for value in sensor)
    header = bytes([PROTOCOL_VERSION]) + pack(data.get("device_id"), 2, "device_id") + pack(flags, 2, "flags")
    return verified(decode, f_port, data, header + body)
