"""Plain records of registered devices, sites and their history: what the stores hand out, free of the ORM."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


class Status(StrEnum):
    """The lifecycle of a device: planned → installed → active → maintenance → retired."""

    PLANNED = "planned"
    INSTALLED = "installed"
    ACTIVE = "active"
    MAINTENANCE = "maintenance"
    RETIRED = "retired"


# status → the statuses it may change to; retired is final
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PLANNED: frozenset({Status.INSTALLED, Status.RETIRED}),
    Status.INSTALLED: frozenset({Status.ACTIVE, Status.MAINTENANCE, Status.RETIRED}),
    Status.ACTIVE: frozenset({Status.MAINTENANCE, Status.RETIRED}),
    Status.MAINTENANCE: frozenset({Status.INSTALLED, Status.ACTIVE, Status.RETIRED}),
    Status.RETIRED: frozenset(),
}


class SiteType(StrEnum):
    """What kind of place a site is."""

    PARKING_LOT = "parking_lot"
    STREET_SECTION = "street_section"
    MEASURING_STATION = "measuring_station"
    BUILDING = "building"
    OTHER = "other"


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
    status: str = Status.ACTIVE.value
    installed_on: date | None = None
    notes: str = ""
    status_changed_at: datetime | None = None
    status_changed_by: str = ""


@dataclass(frozen=True, slots=True)
class SiteInfo:
    """A place devices are installed at."""

    id: int
    municipality: str
    name: str
    type: str
    lat: float | None
    lon: float | None
    capacity: int | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One step in a device's lifecycle history."""

    dev_eui: str
    from_status: str | None
    to_status: str
    changed_at: datetime
    changed_by: str
    note: str
