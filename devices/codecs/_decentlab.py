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
from typing import Any, NamedTuple

from devices.codecs._frames import pack, scaled, too_short, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PROTOCOL_VERSION = 2
HEADER_SIZE = 5  # version, device id, flags
_HEADER = struct.Struct(">BHH")

Write = Callable[[Any], int]  # a reading's value → the raw word it is sent as
Emit = Callable[[tuple[int, ...], int, dict[str, Any]], None]  # (all words, the sensor's first word, data)


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
    """The run of words behind one flag bit and the readings derived from them.

    ``emit``, when given, writes the sensor's readings into the decoded data in one call, computing what
    several readings share once (a gas cell's voltages); it must give what the readings' own ``read``
    functions give, which ``tests/unit/test_codecs.py`` checks for every sensor on random words.
    """

    readings: tuple[Reading, ...]
    words: tuple[tuple[str, Write], ...]  # per word: the reading it is written from, and how
    emit: Emit | None = None


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

def reading_by_reading(readings: tuple[Reading, ...]) -> Emit:
    """Write each reading as ``{"displayName", "value"[, "unit"]}`` from its own word and ``read``."""
    items = tuple((r.name, r.display_name, r.unit, r.word, r.read) for r in readings)

    def emit(words: tuple[int, ...], offset: int, data: dict[str, Any]) -> None:
        for name, display_name, unit, word, read in items:
            if unit is None:
                data[name] = {"displayName": display_name, "value": read(words[offset + word])}
            else:
                data[name] = {"displayName": display_name, "value": read(words[offset + word]), "unit": unit}

    return emit


def emitter(sensor: Sensor) -> Emit:
    """How ``sensor``'s readings are written: its own ``emit``, else reading by reading."""
    return sensor.emit or reading_by_reading(sensor.readings)


class _Layout(NamedTuple):
    """What decoding needs for one combination of flag bits: the size of all the sensors' words, one struct
    reader for them, and per sensor the index of its first word and how its readings are written.
    """

    size: int
    unpack: Callable[[bytes, int], tuple[int, ...]]
    sensors: tuple[tuple[int, Emit], ...]


def _layout(sensors: tuple[Sensor, ...]) -> _Layout:
    emits: list[tuple[int, Emit]] = []
    words = 0
    for sensor in sensors:
        emits.append((words, emitter(sensor)))
        words += len(sensor.words)
    return _Layout(2 * words, struct.Struct(f">{words}H").unpack_from, tuple(emits))


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
        self._layouts: dict[int, _Layout] = {}  # known flag bits → their layout, made when first seen

    def _new_layout(self, flags: int) -> _Layout:
        """The layout of the sensors whose bits are set in ``flags`` (only known bits), made and kept."""
        sensors = tuple(sensor for bit, sensor in enumerate(self.sensors) if flags >> bit & 1)
        layout = self._layouts[flags] = _layout(sensors)
        return layout

    def _truncated(self, flags: int, length: int) -> DecodeResult:
        """The error for a frame too short for its flags: it names the first sensor cut off."""
        pos = HEADER_SIZE
        for bit, sensor in enumerate(self.sensors):
            if flags >> bit & 1:
                size = 2 * len(sensor.words)
                if pos + size > length:
                    return fail(f"truncated: flag bit {bit} needs {size} bytes at byte {pos}")
                pos += size
        raise AssertionError(f"flags 0x{flags:04x} fit in {length} bytes")  # only asked about a frame cut off

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
        known = flags & self.known_flags
        layout = self._layouts.get(known)
        if layout is None:
            layout = self._new_layout(known)
        size, unpack, sensors = layout
        end, length = HEADER_SIZE + size, len(payload)
        if end > length:
            return self._truncated(known, length)
        words = unpack(payload, HEADER_SIZE)
        data: dict[str, Any] = {"protocol_version": PROTOCOL_VERSION, "device_id": device_id}
        for offset, emit in sensors:
            emit(words, offset, data)
        warnings = []
        if flags != known:
            warnings.append(f"flag bits 0x{flags & ~self.known_flags:04x} are not {self.model} sensors; ignored")
        if end < length:
            warnings.append(f"{length - end} trailing bytes ignored")
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


# --- physical values → frames (what the station's firmware does; the simulator sends these) ---------------


def clipped_word(value: float) -> int:
    """``value`` rounded to a uint16 word, clipped to 0..65535 as the station's registers are."""
    return int(min(65535, max(0, round(value))))


def air_temperature_word(celsius: float) -> int:
    """The humidity sensor's temperature word of ``celsius`` (inverse of :func:`air_temperature`)."""
    return clipped_word((celsius + 46.85) * 65536 / 175.72)


def air_humidity_word(percent: float) -> int:
    """The humidity sensor's humidity word of ``percent`` (inverse of :func:`air_humidity`)."""
    return clipped_word((percent + 6) * 65536 / 125)


def battery_word(volts: float) -> int:
    """The battery word of ``volts`` (mV steps)."""
    return clipped_word(volts * 1000)


def frame(device_id: int, flags: int, words: list[int]) -> bytes:
    """A protocol-2 frame: header, then ``words`` (those of the sensors whose bits are set in ``flags``).

    Raises:
        CodecError: the device id does not fit in 16 bits.
    """
    if not 0 <= device_id <= 0xFFFF:
        raise CodecError(f"device_id must be 0..65535, got {device_id}")
    return _HEADER.pack(PROTOCOL_VERSION, device_id, flags) + struct.pack(f">{len(words)}H", *words)
