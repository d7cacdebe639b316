"""What a device says about itself when it (re)starts: firmware version and reset cause, as one InfluxDB point.

Models whose catalog entry names a ``startup`` port decode these frames into keys such as ``firmware_version``
and ``reset_cause`` (``firmwareVersion`` / ``resetCause`` in some vendors' codecs). Ingest adds the point this
module builds to the uplink's lines; health reads the newest one back. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices.catalog import DeviceModel
from stadtpuls.lineprotocol import string_field

STARTUP_MEASUREMENT = "device_startup"
FIRMWARE_KEYS = ("firmware_version", "firmwareVersion", "firmware")
RESET_KEYS = ("reset_cause", "resetCause")
MAX_TEXT = 64  # characters kept of a value


_PORTS: dict[str, frozenset[int]] = {}  # model id → its startup ports, worked out once


def startup_ports(model: DeviceModel) -> frozenset[int]:
    """The fPorts on which the model's firmware reports a (re)start, from the catalog's port descriptions."""
    ports = _PORTS.get(model.model)
    if ports is None:
        ports = frozenset(int(p) for p, meaning in model.fports.items() if p.isdigit() and "startup" in meaning)
        _PORTS[model.model] = ports
    return ports


def _text(data: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            cleaned = "".join(ch for ch in str(value) if ch.isprintable())[:MAX_TEXT]
            return cleaned or None
    return None


def startup_line(model: DeviceModel, f_port: int, data: Mapping[str, Any], tags: str, timestamp_ns: int) -> str | None:
    """The ``device_startup`` point of a decoded startup frame, or None for any other frame.

    Args:
        model: the device's catalog entry.
        f_port: the uplink's port.
        data: the decoded payload.
        tags: the escaped tag set of the device's points, starting with a comma.
        timestamp_ns: the uplink's receive time.
    """
    if f_port not in startup_ports(model):
        return None
    fields = {"firmware": _text(data, FIRMWARE_KEYS), "reset_cause": _text(data, RESET_KEYS)}
    present = [f"{name}={string_field(value)}" for name, value in fields.items() if value is not None]
    if not present:
        return None
    return f"{STARTUP_MEASUREMENT}{tags} {','.join(present)} {timestamp_ns}"
