"""IMBuildings LoRaWAN People Counter (payload type 2).

Keys and values follow the vendor codec in the TTN Device Repository (``vendor/imbuildings/imbuildings.js``).
All integers are big-endian. On fPort 1 a frame starts with type (2), variant and the 8-byte device id:

* variant 5 (19 bytes): status, battery (x/100 V), counter A, counter B (uint16), sensor status,
  payload counter;
* variant 6 (23 bytes): status, battery, counter A, counter B, sensor status, total counter A, total
  counter B (uint16), payload counter;
* variant 7 (18 bytes): status, battery, sensor status, total counter A, total counter B.

fPort 26 and 27 carry variant 6 and 7 without the type/variant/id header (13 and 5 bytes).
Counter A counts one direction through the door and counter B the other; the period counters restart
each transmission, the totals are cumulative until the device resets them.
"""

from __future__ import annotations

import struct
from typing import Any

from devices.codecs._frames import pack, scaled, too_short, unknown_port, verified
from devices.codecs.base import CodecError, DecodeResult, fail, ok

PORT_STANDARD, PORT_VARIANT_6, PORT_VARIANT_7 = 1, 26, 27
PEOPLE_COUNTER = 2
HEADER_SIZE = 10  # type, variant, 8-byte device id
_PORTS = (PORT_STANDARD, PORT_VARIANT_6, PORT_VARIANT_7)

Field = tuple[str, str, int]  # key, big-endian struct format, divisor (value = raw / divisor)
_STATUS: tuple[Field, ...] = (("device_status", "B", 1), ("battery_voltage", "H", 100))
_PERIOD: tuple[Field, ...] = (("counter_a", "H", 1), ("counter_b", "H", 1))
_TOTALS: tuple[Field, ...] = (("sensor_status", "B", 1), ("total_counter_a", "H", 1), ("total_counter_b", "H", 1))
_BODIES: dict[int, tuple[Field, ...]] = {  # variant → the fields after the header on fPort 1
    5: (*_STATUS, *_PERIOD, ("sensor_status", "B", 1), ("payload_counter", "B", 1)),
    6: (*_STATUS, *_PERIOD, *_TOTALS, ("payload_counter", "B", 1)),
    7: (*_STATUS, *_TOTALS),
}
_BARE_BODIES = {PORT_VARIANT_6: _BODIES[6], PORT_VARIANT_7: _TOTALS}  # fPort → the fields of its frame


class _Layout:
    """A frame whose fields follow ``offset`` header bytes, read with one struct call."""

    __slots__ = ("fields", "offset", "size", "unpack")

    def __init__(self, offset: int, fields: tuple[Field, ...]) -> None:
        reader = struct.Struct(">" + "".join(codes for _, codes, _ in fields))
        self.offset = offset
        self.size = offset + reader.size  # of the whole frame
        self.unpack = reader.unpack_from
        self.fields = tuple((index, key, divisor) for index, (key, _, divisor) in enumerate(fields))

    def read(self, payload: bytes, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` with the fields' values added."""
        values = self.unpack(payload, self.offset)
        for index, key, divisor in self.fields:
            raw = values[index]
            data[key] = raw if divisor == 1 else raw / divisor
        return data


# Decoding layouts, derived once from the tables above.
_LAYOUTS = {variant: _Layout(HEADER_SIZE, fields) for variant, fields in _BODIES.items()}
_BARE_LAYOUTS = {port: _Layout(0, fields) for port, fields in _BARE_BODIES.items()}
_SIZES = {variant: layout.size for variant, layout in _LAYOUTS.items()}  # variant → frame size on fPort 1


def _decode_standard(payload: bytes) -> DecodeResult:
    if len(payload) < 2:
        return too_short("people counter frame", payload, 2)
    if payload[0] != PEOPLE_COUNTER:
        return fail(f"payload type {payload[0]} is not a people counter (2)")
    variant = payload[1]
    layout = _LAYOUTS.get(variant)
    if layout is None:
        return fail(f"people counter variant {variant} is not a LoRaWAN variant (5, 6, 7)")
    if len(payload) != layout.size:
        return fail(f"people counter variant {variant} needs {layout.size} bytes, got {len(payload)}")
    data: dict[str, Any] = {
        "device_type_identifier": PEOPLE_COUNTER,
        "device_type": "People Counter",
        "device_type_variant": variant,
        "device_id": payload[2:HEADER_SIZE].hex(),
    }
    return ok(layout.read(payload, data))


def decode(f_port: int, payload: bytes) -> DecodeResult:
    """Decode one people counter uplink."""
    payload = bytes(payload)
    if f_port == PORT_STANDARD:
        return _decode_standard(payload)
    layout = _BARE_LAYOUTS.get(f_port)
    if layout is None:
        return unknown_port(f_port, _PORTS)
    if len(payload) != layout.size:
        return fail(f"fPort {f_port} frame needs {layout.size} bytes, got {len(payload)}")
    return ok(layout.read(payload, {}))


def _u16_of(data: dict[str, Any], key: str) -> bytes:
    return pack(data.get(key), 2, key)


def _u8_of(data: dict[str, Any], key: str) -> bytes:
    return pack(data.get(key), 1, key)


def _status_battery_bytes(data: dict[str, Any]) -> bytes:
    battery = scaled(data.get("battery_voltage"), 100, "battery_voltage")
    return _u8_of(data, "device_status") + pack(battery, 2, "battery_voltage")


def _body(variant: int, data: dict[str, Any]) -> bytes:
    if variant == 5:
        return (
            _status_battery_bytes(data)
            + _u16_of(data, "counter_a")
            + _u16_of(data, "counter_b")
            + _u8_of(data, "sensor_status")
            + _u8_of(data, "payload_counter")
        )
    totals = _u8_of(data, "sensor_status") + _u16_of(data, "total_counter_a") + _u16_of(data, "total_counter_b")
    if variant == 7:
        return _status_battery_bytes(data) + totals
    return (
        _status_battery_bytes(data)
        + _u16_of(data, "counter_a")
        + _u16_of(data, "counter_b")
        + totals
        + _u8_of(data, "payload_counter")
    )


def _header(data: dict[str, Any]) -> tuple[int, bytes]:
    variant = data.get("device_type_variant")
    if variant not in _SIZES:
        raise CodecError(f"device_type_variant must be one of {sorted(_SIZES)}, got {variant!r}")
    try:
        device_id = bytes.fromhex(str(data.get("device_id")))
    except ValueError as exc:
        raise CodecError(f"device_id must be 16 hex digits, got {data.get('device_id')!r}") from exc
    if len(device_id) != HEADER_SIZE - 2:
        raise CodecError(f"device_id must be 16 hex digits, got {data.get('device_id')!r}")
    return variant, bytes([PEOPLE_COUNTER, variant]) + device_id


def encode(f_port: int, data: dict[str, Any]) -> bytes:
    """Encode ``data`` as the people counter sends it on ``f_port`` (inverse of :func:`decode`).

    Raises:
        CodecError: unknown fPort, or data the counter cannot send.
    """
    if f_port == PORT_STANDARD:
        variant, header = _header(data)
        frame = header + _body(variant, data)
    elif f_port == PORT_VARIANT_6:
        frame = _body(6, data)
    elif f_port == PORT_VARIANT_7:
        frame = _body(7, {"battery_voltage": 0, "device_status": 0, **data})[3:]
    else:
        raise CodecError(f"unknown fPort {f_port}; the people counter sends on fPort {list(_PORTS)}")
    return verified(decode, f_port, data, frame)


# --- physical values → frames (what the counter's firmware does; the simulator sends these) ---------------

_VARIANT_6 = struct.Struct(">BB8sBHHHBHHB")


def encode_counts(
    device_id: str,
    *,
    period_in: int,
    period_out: int,
    total_in: int,
    total_out: int,
    battery_voltage: float,
    payload_counter: int,
) -> bytes:
    """The fPort 1 frame of variant 6: counts of the period (counter A in, B out, clipped to 65535), the
    cumulative totals and the payload counter (wrapping at 65536 and 256 as the counter's do), battery (V,
    10 mV steps), status bytes 0.

    Raises:
        CodecError: ``device_id`` is not 16 hex digits.
    """
    try:
        raw_id = bytes.fromhex(device_id)
    except ValueError as exc:
        raise CodecError(f"device_id must be 16 hex digits, got {device_id!r}") from exc
    if len(raw_id) != HEADER_SIZE - 2:
        raise CodecError(f"device_id must be 16 hex digits, got {device_id!r}")
    battery = int(min(65535, max(0, round(battery_voltage * 100))))
    return _VARIANT_6.pack(
        PEOPLE_COUNTER, 6, raw_id, 0, battery, min(period_in, 65535), min(period_out, 65535), 0,
        total_in % 65536, total_out % 65536, payload_counter % 256,
    )
