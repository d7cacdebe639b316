"""Decentlab protocol 2, the frame every Decentlab station sends; each model module brings its sensor table.

Frame (big-endian): version byte (2), device id (uint16), flags (uint16), then for each set flag bit, lowest
first, the run of uint16 words of that bit's sensor. Each sensor derives its readings from its words (one
reading per word, or several readings from one word, e.g. a voltage and the concentration it gives) and
every reading is ``{"displayName", "value"[, "unit"]}``, as in the vendor decoders.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from devices.codecs._frames import pack, scaled, too_short, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PROTOCOL_VERSION = 2
HEADER_SIZE = 5  # version, device id, flags
_HEADER = struct.Struct(">BHH")

Write = Callable[[Any], int]  # a reading's value → the raw word it is sent as


@dataclass(frozen=True)
class Reading:
    """One reading of a sensor, computed from one word of the sensor's run."""

    name: str
    display_name: str
    unit: str | None
    read: Callable[[int], float]  # raw word → value
    word: int = 0  # index of that word in the sensor's run


@dataclass(frozen=True)
class Sensor:
    """The run of words behind one flag bit and the readings derived from them."""

    readings: tuple[Reading, ...]
    words: tuple[tuple[str, Write], ...]  # per word: the reading it is written from, and how


def one_per_word(*values: tuple[Reading, Write]) -> Sensor:
    """A sensor whose n-th word is its n-th reading."""
    readings = tuple(replace(reading, word=index) for index, (reading, _) in enumerate(values))
    return Sensor(readings, tuple((reading.name, write) for reading, write in values))


def air_temperature(x: int) -> float:
    """Air temperature (°C) of the humidity sensor's raw word."""
    return 175.72 * x / 65536 - 46.85


def air_humidity(x: int) -> float:
    """Relative humidity (%) of the humidity sensor's raw word."""
    return 125 * x / 65536 - 6


AIR = one_per_word(
    (
        Reading("air_temperature", "Air temperature", "°C", air_temperature),
        lambda v: scaled(v, 65536 / 175.72, "air_temperature", offset=-46.85),
    ),
    (
        Reading("air_humidity", "Air humidity", "%", air_humidity),
        lambda v: scaled(v, 65536 / 125, "air_humidity", offset=-6),
    ),
)
BATTERY = one_per_word(
    (
        Reading("battery_voltage", "Battery voltage", "V", lambda x: x / 1000),
        lambda v: scaled(v, 1000, "battery_voltage"),
    ),
)

_Plan = tuple[int, int, struct.Struct, tuple[tuple[str, str, str | None, int, Callable[[int], float]], ...]]


def _plan(bit: int, sensor: Sensor) -> _Plan:
    """What decoding needs of one sensor, in the cheapest shape to loop over."""
    values = tuple((r.name, r.display_name, r.unit, r.word, r.read) for r in sensor.readings)
    return bit, 2 * len(sensor.words), struct.Struct(f">{len(sensor.words)}H"), values


class DecentlabCodec:
    """The protocol-2 codec of one Decentlab model: its fPort and its sensors, one per flag bit."""

    def __init__(self, model: str, port: int, sensors: tuple[Sensor, ...]) -> None:
        """Set up the codec.

        Args:
            model: the model's name in messages, e.g. ``"DL-PM"``.
            port: the fPort the model sends on.
            sensors: the sensor of flag bit 0, 1, ...
        """
        self.model = model
        self.port = port
        self.sensors = sensors
        self.known_flags = (1 << len(sensors)) - 1
        every_unit = all(r.unit is not None for s in sensors for r in s.readings)
        self._shape = "{displayName, value, unit}" if every_unit else "{displayName, value[, unit]}"
        self._plans = tuple(_plan(bit, sensor) for bit, sensor in enumerate(sensors))

    def decode(self, f_port: int, payload: bytes) -> DecodeResult:
        """Decode one uplink; bad bytes give an ``errors`` entry, unknown flag bits and extra bytes a warning."""
        if f_port != self.port:
            return unknown_port(f_port, (self.port,))
        payload = bytes(payload)
        if len(payload) < 1:
            return too_short("Decentlab frame", payload, HEADER_SIZE)
        if payload[0] != PROTOCOL_VERSION:
            return fail(f"protocol version {payload[0]} doesn't match v2")
        if len(payload) < HEADER_SIZE:
            return too_short("Decentlab frame", payload, HEADER_SIZE)
        _, device_id, flags = _HEADER.unpack_from(payload)
        data: dict[str, Any] = {"protocol_version": PROTOCOL_VERSION, "device_id": device_id}
        pos, length = HEADER_SIZE, len(payload)
        for bit, size, layout, values in self._plans:
            if not flags >> bit & 1:
                continue
            if pos + size > length:
                return fail(f"truncated: flag bit {bit} needs {size} bytes at byte {pos}")
            words = layout.unpack_from(payload, pos)
            for name, display_name, unit, word, read in values:
                if unit is None:
                    data[name] = {"displayName": display_name, "value": read(words[word])}
                else:
                    data[name] = {"displayName": display_name, "value": read(words[word]), "unit": unit}
            pos += size
        warnings = []
        if flags & ~self.known_flags:
            warnings.append(f"flag bits 0x{flags & ~self.known_flags:04x} are not {self.model} sensors; ignored")
        if pos < length:
            warnings.append(f"{length - pos} trailing bytes ignored")
        return ok(data, warnings)

    def encode(self, f_port: int, data: dict[str, Any]) -> bytes:
        """Encode readings as one frame (inverse of :meth:`decode`).

        A sensor is sent when all its readings are in ``data``; its words are written from the readings
        :attr:`Sensor.words` names, and the frame must decode back to ``data``.

        Raises:
            CodecError: wrong fPort, an incomplete sensor group, or a value the station cannot report.
        """
        if f_port != self.port:
            raise CodecError(f"unknown fPort {f_port}; the {self.model} sends on fPort {self.port}")
        flags, body = 0, b""
        for bit, sensor in enumerate(self.sensors):
            present = [reading.name in data for reading in sensor.readings]
            if any(present) and not all(present):
                missing = [reading.name for reading in sensor.readings if reading.name not in data]
                raise CodecError(f"incomplete sensor group: missing {missing}")
            if all(present):
                flags |= 1 << bit
                body += b"".join(self._word(name, write, data[name]) for name, write in sensor.words)
        header = bytes([PROTOCOL_VERSION]) + pack(data.get("device_id"), 2, "device_id") + pack(flags, 2, "flags")
        return verified(self.decode, f_port, data, header + body)

    def _word(self, name: str, write: Write, reading: Any) -> bytes:
        if not isinstance(reading, dict) or "value" not in reading:
            raise CodecError(f"{name} must be a reading {self._shape}, got {reading!r}")
        return pack(write(reading["value"]), 2, name)
