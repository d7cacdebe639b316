"""The registry of installed sensors: which device (DevEUI) is which model, where, in which municipality."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from devices.catalog import get_model
from devices.records import DeviceInfo
from stadtpuls.db import open_database
from stadtpuls.errors import DataError
from stadtpuls.lineprotocol import LineProtocolError, check_name
from stadtpuls.tables import Device

__all__ = ["DeviceInfo", "DeviceRegistry", "RegistryError", "normalise_dev_eui"]

_DEV_EUI = re.compile(r"^[0-9A-F]{16}$")


class RegistryError(DataError, ValueError):
    """A device record is invalid (bad DevEUI, unknown model, empty name...)."""


def normalise_dev_eui(value: str) -> str:
    """``"70b3-d5e7..."`` → ``"70B3D5E7..."``.

    Raises:
        RegistryError: not 16 hex digits.
    """
    cleaned = value.strip().replace(":", "").replace("-", "").upper()
    if not _DEV_EUI.match(cleaned):
        raise RegistryError(f"DevEUI must be 16 hex digits, got {value!r}")
    return cleaned


def _check_text(label: str, value: str) -> str:
    value = value.strip()
    if not value or len(value) > 200:
        raise RegistryError(f"{label} must be 1-200 characters, got {value!r}")
    try:
        return check_name(value)
    except LineProtocolError as exc:
        raise RegistryError(f"{label}: {exc}") from exc


def _check_coords(lat: float | None, lon: float | None) -> None:
    if (lat is None) != (lon is None):
        raise RegistryError("give both --lat and --lon, or neither")
    if lat is not None and not -90 <= lat <= 90:
        raise RegistryError(f"latitude {lat} outside -90..90")
    if lon is not None and not -180 <= lon <= 180:
        raise RegistryError(f"longitude {lon} outside -180..180")


def _info(device: Device) -> DeviceInfo:
    return DeviceInfo(
        dev_eui=device.dev_eui,
        name=device.name,
        model=device.model,
        device_class=get_model(device.model).device_class.value,
        site=device.site,
        municipality=device.municipality,
        lat=device.lat,
        lon=device.lon,
    )


class DeviceRegistry:
    """Adds, updates and lists devices in the relational store."""

    def __init__(self, url: str) -> None:
        self._sessions: sessionmaker[Session] = open_database(url)

    def upsert(
        self,
        dev_eui: str,
        *,
        model: str,
        name: str,
        site: str,
        municipality: str,
        lat: float | None = None,
        lon: float | None = None,
    ) -> tuple[DeviceInfo, bool]:
        """Register a device, or update it if its DevEUI is known. Returns the device and whether it is new.

        Raises:
            RegistryError: a value is invalid or the model is not in the catalog.
        """
        eui = normalise_dev_eui(dev_eui)
        try:
            get_model(model)
        except KeyError as exc:
            raise RegistryError(str(exc.args[0])) from exc
        _check_coords(lat, lon)
        values = {
            "model": model,
            "name": _check_text("name", name),
            "site": _check_text("site", site),
            "municipality": _check_text("municipality", municipality),
            "lat": lat,
            "lon": lon,
        }
        with self._sessions.begin() as session:
            device = session.get(Device, eui)
            created = device is None
            if device is None:
                device = Device(dev_eui=eui, **values)
                session.add(device)
            else:
                for key, value in values.items():
                    setattr(device, key, value)
                device.updated_at = datetime.now(UTC)
            session.flush()
            return _info(device), created

    def get(self, dev_eui: str) -> DeviceInfo | None:
        """The device with this DevEUI, or None."""
        with self._sessions() as session:
            device = session.get(Device, normalise_dev_eui(dev_eui))
            return _info(device) if device else None

    def list(self, *, municipality: str | None = None, site: str | None = None) -> list[DeviceInfo]:
        """All devices, optionally of one municipality and/or site, ordered by municipality, site, name."""
        query = select(Device).order_by(Device.municipality, Device.site, Device.name)
        if municipality is not None:
            query = query.where(Device.municipality == municipality)
        if site is not None:
            query = query.where(Device.site == site)
        with self._sessions() as session:
            return [_info(d) for d in session.scalars(query)]

    def remove(self, dev_eui: str) -> bool:
        """Delete a device; True if it existed."""
        with self._sessions.begin() as session:
            device = session.get(Device, normalise_dev_eui(dev_eui))
            if device is None:
                return False
            session.delete(device)
            return True
