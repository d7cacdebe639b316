"""The technician's side of the API: who is calling, and the records the technician routes speak.

:data:`TechnicianDep` gives the caller's principal (name, municipality, role) from the ``X-API-Key`` header.
It rests on the API's keys and roles (:mod:`api.deps`): a key of role technician or admin is needed (401
without a key, 403 for a reader), and it must be bound to one municipality, whose devices are the only ones
the caller sees or changes. Errors are problem+json (:mod:`api.problems`), as everywhere in the API.

No cookie is involved: a browser sends the key only when the page's own script adds the header, so another
site cannot make a signed-in browser send a request (no cross-site request forgery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from api.deps import TechnicianDep as KeyOfTechnician
from api.problems import Problem


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a name for the history, the municipality they act for, their role."""

    name: str
    municipality: str
    role: str = "technician"


def _technician(holder: KeyOfTechnician) -> Principal:
    """The caller of a technician route: a technician (or admin) key bound to one municipality."""
    if holder.municipality is None:
        raise Problem(403, "the technician tools act for one municipality: use a technician key of that municipality")
    role = holder.role.value if holder.role is not None else ""
    return Principal(holder.name, holder.municipality, role)


TechnicianDep = Annotated[Principal, Depends(_technician)]

TIME = "UTC time (RFC 3339)"
DAY = "Day of installation (YYYY-MM-DD)"
STATUS = "Lifecycle status: planned, installed, active, maintenance or retired"

Text = Annotated[str, Field(min_length=1, max_length=200)]
Notes = Annotated[str, Field(max_length=2000)]


class TechnicianDeviceCreate(BaseModel):
    """A device to register in the caller's municipality."""

    dev_eui: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        description="The device's LoRaWAN DevEUI, 16 hex digits (separators and case are normalised)"
    )
    name: Text = Field(description="A name for people, 1-200 characters")
    model: Text = Field(description="The device model's id in the catalog (see `/v1/technician/models`)")
    site: Text = Field(description="The site it is installed at; a new name creates the site")
    lat: float | None = Field(default=None, description="WGS84 latitude, -90..90; give both or neither")
    lon: float | None = Field(default=None, description="WGS84 longitude, -180..180; give both or neither")
    installed_on: date | None = Field(default=None, description=DAY)
    notes: Notes | None = Field(default=None, description="Free text for the next technician, at most 2000 characters")
    status: str = Field(default="installed", description=f"{STATUS}; `installed` if absent")


class TechnicianDeviceUpdate(BaseModel):
    """Fields of a device to change; absent ones stay."""

    name: Text | None = Field(default=None, description="A name for people, 1-200 characters")
    model: Text | None = Field(default=None, description="The device model's id in the catalog")
    site: Text | None = Field(default=None, description="The site it is installed at; a new name creates the site")
    lat: float | None = Field(default=None, description="WGS84 latitude, -90..90; give both or neither")
    lon: float | None = Field(default=None, description="WGS84 longitude, -180..180; give both or neither")
    installed_on: date | None = Field(default=None, description=DAY)
    notes: Notes | None = Field(default=None, description="Free text for the next technician, at most 2000 characters")


class StatusUpdate(BaseModel):
    """A lifecycle step."""

    status: Annotated[str, Field(max_length=20)] = Field(
        description=f"The new status: {STATUS.split(': ')[1]}; retired is final"
    )
    note: Annotated[str, Field(max_length=500)] = Field(
        default="", description="Why, for the device's history (at most 500 characters)"
    )


class TechnicianDevice(BaseModel):
    """A registered device with its lifecycle status."""

    dev_eui: str = Field(description="The device's LoRaWAN DevEUI, 16 upper-case hex digits")
    name: str = Field(description="A name for people")
    model: str = Field(description="The device model's id in the catalog")
    device_class: str = Field(description="What the model measures: parking, footfall, air_quality or generic")
    site: str = Field(description="The site the device is installed at")
    municipality: str = Field(description="The municipality the device belongs to")
    lat: float | None = Field(description="WGS84 latitude, if known")
    lon: float | None = Field(description="WGS84 longitude, if known")
    status: str = Field(description=STATUS)
    installed_on: date | None = Field(description=f"{DAY}, if known")
    notes: str = Field(description="Free text for the next technician (empty if none)")
    status_changed_at: datetime | None = Field(description=f"When the status last changed ({TIME}), if ever")
    status_changed_by: str = Field(description="Who changed it last (a key's name, or `stadtpuls` for the system)")


class StatusChangePublic(BaseModel):
    """One step of a device's history."""

    from_status: str | None = Field(description="The status before; null for the registration")
    to_status: str = Field(description="The status after")
    changed_at: datetime = Field(description=f"When ({TIME})")
    changed_by: str = Field(description="Who (a key's name, or `stadtpuls` for the system)")
    note: str = Field(description="Why, as given (empty if nothing was said)")


class HealthPublic(BaseModel):
    """A device's health from its uplinks, battery readings and startup frames (null: not known)."""

    dev_eui: str = Field(description="The device's LoRaWAN DevEUI, 16 upper-case hex digits")
    last_uplink: datetime | None = Field(description=f"Receive time of the newest uplink ({TIME})")
    rssi: float | None = Field(description="Received signal strength of the newest uplink at the best gateway, dBm")
    snr: float | None = Field(description="Signal-to-noise ratio of the newest uplink at the best gateway, dB")
    gateways: int | None = Field(description="Number of gateways that heard the newest uplink")
    battery: float | None = Field(description="Newest battery reading, in `battery_unit`")
    battery_unit: str = Field(description="`V` (voltage) or `%` (level), as the model reports; empty without a reading")
    battery_time: datetime | None = Field(description=f"When the battery reading was received ({TIME})")
    uplinks_24h: int = Field(description="Uplinks received in the last 24 h")
    lost_24h: int = Field(description="Frames missing from the frame counter in the last 24 h")
    loss_24h: float | None = Field(
        description="Share of frames lost in the last 24 h, 0..1 (not %); null without uplinks"
    )
    median_rssi_24h: float | None = Field(description="Median RSSI of the last 24 h at the best gateway, dBm")
    median_snr_24h: float | None = Field(description="Median SNR of the last 24 h at the best gateway, dB")
    max_gateways_24h: int = Field(description="Most gateways that heard one uplink in the last 24 h")
    restarts_24h: int = Field(description="Restarts (startup frames, else frame-counter resets) in the last 24 h")
    last_startup: datetime | None = Field(description=f"Receive time of the newest startup frame ({TIME})")
    firmware: str | None = Field(description="Firmware version from the newest startup frame, if the model reports it")
    reset_cause: str | None = Field(description="Reset cause from the newest startup frame, where the model reports it")


class AlarmPublic(BaseModel):
    """An alarm about one device."""

    id: int = Field(description="The alarm's id")
    dev_eui: str = Field(description="The device's LoRaWAN DevEUI, 16 upper-case hex digits")
    device_name: str = Field(description="The device's name")
    site: str = Field(description="The device's site")
    municipality: str = Field(description="The device's municipality")
    kind: str = Field(
        description="What it is about: offline, never_seen, low_battery, weak_signal, repeated_resets "
        "or quarantine_burst"
    )
    severity: str = Field(description="`critical` or `warning`")
    message: str = Field(description="What was found, for people")
    raised_at: datetime = Field(description=f"When it was raised ({TIME})")
    updated_at: datetime = Field(description=f"When it was last confirmed or changed ({TIME})")
    cleared_at: datetime | None = Field(description=f"When it cleared ({TIME}); null while open")


class ValuePublic(BaseModel):
    """The newest value of one quantity (and channel) of a device."""

    quantity: str = Field(description="Canonical quantity, e.g. `pm10`")
    channel: str | None = Field(description="Channel or counting line, for devices with several")
    value: float = Field(description="The value, in `unit`")
    unit: str = Field(description="Unit of the quantity")
    time: str = Field(description=f"When it was received ({TIME})")


class TechnicianDeviceDetail(BaseModel):
    """Everything a technician sees of one device."""

    device: TechnicianDevice = Field(description="The registered device")
    history: list[StatusChangePublic] = Field(description="Its lifecycle steps, oldest first")
    health: HealthPublic | None = Field(description="Its health; null when the time-series store is unreachable")
    alarms: list[AlarmPublic] = Field(description="Its open alarms")
    values: list[ValuePublic] = Field(description="Its newest decoded values, one per quantity and channel")
    waiting_for_first_uplink: bool = Field(description="Whether nothing has been heard since it was installed")
    problem: str = Field(
        default="", description="Why health or values are missing (e.g. time-series store unreachable); empty if none"
    )


class ImportOutcome(BaseModel):
    """What an upload did or would do."""

    rows: int = Field(description="Data rows in the file")
    created: int = Field(description="Devices registered (or to be, on a dry run)")
    updated: int = Field(description="Devices changed (or to be, on a dry run)")
    unchanged: int = Field(description="Rows that match the registry already")
    new_sites: list[str] = Field(description="Sites the import creates")
    written: bool = Field(description="Whether the registry was changed")
    dry_run: bool = Field(description="Whether this was a dry run (checked, nothing written)")
