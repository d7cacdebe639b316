"""The technician's side of the API: who is calling, and the records the technician routes speak.

:data:`TechnicianDep` gives the caller's principal (name, municipality, role) from the ``X-API-Key`` header.
It rests on the API's keys and roles (:mod:`api.deps`): a key of role technician or admin is needed (401
without a key, 403 for a reader), and it must be bound to one municipality, whose devices are the only ones
the caller sees or changes.

No cookie is involved: a browser sends the key only when the page's own script adds the header, so another
site cannot make a signed-in browser send a request (no cross-site request forgery).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from fastapi import Depends, HTTPException
from pydantic import BaseModel, Field

from api.deps import TechnicianDep as KeyOfTechnician


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: a name for the history, the municipality they act for, their role."""

    name: str
    municipality: str
    role: str = "technician"


def _technician(holder: KeyOfTechnician) -> Principal:
    """The caller of a technician route: a technician (or admin) key bound to one municipality."""
    if holder.municipality is None:
        raise HTTPException(
            status_code=403,
            detail="the technician tools act for one municipality: use a technician key of that municipality",
        )
    role = holder.role.value if holder.role is not None else ""
    return Principal(holder.name, holder.municipality, role)


TechnicianDep = Annotated[Principal, Depends(_technician)]

Text = Annotated[str, Field(min_length=1, max_length=200)]


class TechnicianDeviceCreate(BaseModel):
    """A device to register in the caller's municipality."""

    dev_eui: Annotated[str, Field(min_length=1, max_length=40)]
    name: Text
    model: Text
    site: Text
    lat: float | None = None
    lon: float | None = None
    installed_on: date | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None
    status: str = "installed"


class TechnicianDeviceUpdate(BaseModel):
    """Fields of a device to change; absent ones stay."""

    name: Text | None = None
    model: Text | None = None
    site: Text | None = None
    lat: float | None = None
    lon: float | None = None
    installed_on: date | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class StatusUpdate(BaseModel):
    """A lifecycle step."""

    status: Annotated[str, Field(max_length=20)]
    note: Annotated[str, Field(max_length=500)] = ""


class TechnicianDevice(BaseModel):
    """A registered device with its lifecycle status."""

    dev_eui: str
    name: str
    model: str
    device_class: str
    site: str
    municipality: str
    lat: float | None
    lon: float | None
    status: str
    installed_on: date | None
    notes: str
    status_changed_at: datetime | None
    status_changed_by: str


class StatusChangePublic(BaseModel):
    """One step of a device's history."""

    from_status: str | None
    to_status: str
    changed_at: datetime
    changed_by: str
    note: str


class HealthPublic(BaseModel):
    """A device's health (None: not known)."""

    dev_eui: str
    last_uplink: datetime | None
    rssi: float | None
    snr: float | None
    gateways: int | None
    battery: float | None
    battery_unit: str
    battery_time: datetime | None
    uplinks_24h: int
    lost_24h: int
    loss_24h: float | None
    median_rssi_24h: float | None
    median_snr_24h: float | None
    max_gateways_24h: int
    restarts_24h: int
    last_startup: datetime | None
    firmware: str | None
    reset_cause: str | None


class AlarmPublic(BaseModel):
    """An alarm."""

    id: int
    dev_eui: str
    device_name: str
    site: str
    municipality: str
    kind: str
    severity: str
    message: str
    raised_at: datetime
    updated_at: datetime
    cleared_at: datetime | None


class ValuePublic(BaseModel):
    """A decoded value."""

    quantity: str
    channel: str | None
    value: float
    unit: str
    time: str


class TechnicianDeviceDetail(BaseModel):
    """Everything a technician sees of one device."""

    device: TechnicianDevice
    history: list[StatusChangePublic]
    health: HealthPublic | None
    alarms: list[AlarmPublic]
    values: list[ValuePublic]
    waiting_for_first_uplink: bool
    problem: str = ""  # why health or values are missing (e.g. InfluxDB unreachable)


class ImportRowProblem(BaseModel):
    """One reason a row of an upload cannot be imported."""

    line: int
    field: str
    reason: str


class ImportOutcome(BaseModel):
    """What an upload did or would do."""

    rows: int
    created: int
    updated: int
    unchanged: int
    new_sites: list[str]
    written: bool
    dry_run: bool
