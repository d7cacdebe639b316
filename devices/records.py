"""Plain records of registered devices: what the stores hand out, free of the ORM."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A plain, detached view of a registered device (what ingest caches and the API returns)."""

    dev_eui: str
    name: str
    model: str
    device_class: str
    site: str
    municipality: str
    lat: float | None
    lon: float | None
