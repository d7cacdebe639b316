"""Response models of the API."""

from __future__ import annotations

from pydantic import BaseModel


class DevicePublic(BaseModel):
    """A registered device."""

    dev_eui: str
    name: str
    model: str
    device_class: str
    site: str
    municipality: str
    lat: float | None
    lon: float | None


class DevicesPublic(BaseModel):
    """A list of devices."""

    data: list[DevicePublic]
    count: int


class LatestValue(BaseModel):
    """The newest value of one quantity (and channel) of a device."""

    quantity: str
    channel: str | None
    value: float
    unit: str
    time: str


class RadioPublic(BaseModel):
    """The device's newest uplink as the network server saw it."""

    time: str
    rssi: float | None
    snr: float | None
    f_cnt: int | None


class DeviceLatest(BaseModel):
    """A device with its newest values."""

    device: DevicePublic
    values: list[LatestValue]
    last_uplink: RadioPublic | None


class Check(BaseModel):
    """One dependency's health."""

    ok: bool
    detail: str


class Health(BaseModel):
    """The platform's health: every dependency must be reachable."""

    status: str
    checks: dict[str, Check]
