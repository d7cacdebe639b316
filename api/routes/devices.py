"""``/v1/devices``: registered devices and their newest values."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, HTTPException, Query

from api.deps import InfluxDep, RegistryDep
from api.models import DeviceLatest, DevicePublic, DevicesPublic
from api.queries import latest_uplink_query, latest_values_query, parse_latest, parse_uplink
from devices.catalog import get_model
from devices.registry import RegistryError
from stadtpuls.influx import InfluxUnavailable

router = APIRouter(prefix="/v1/devices", tags=["devices"])


@router.get("", response_model=DevicesPublic)
def list_devices(
    registry: RegistryDep,
    municipality: str | None = Query(default=None, max_length=200),
    site: str | None = Query(default=None, max_length=200),
) -> DevicesPublic:
    """All registered devices, optionally of one municipality or site."""
    devices = [DevicePublic(**asdict(d)) for d in registry.list(municipality=municipality, site=site)]
    return DevicesPublic(data=devices, count=len(devices))


@router.get("/{dev_eui}/latest", response_model=DeviceLatest)
async def latest(dev_eui: str, registry: RegistryDep, influx: InfluxDep) -> DeviceLatest:
    """The device's newest value of each quantity, with its time."""
    try:
        device = registry.get(dev_eui)
    except RegistryError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if device is None:
        raise HTTPException(status_code=404, detail=f"device {dev_eui} is not registered")
    quantities = get_model(device.model).quantities
    try:
        values = parse_latest(await influx.query(latest_values_query(device.dev_eui, quantities)))
        radio = parse_uplink(await influx.query(latest_uplink_query(device.dev_eui)))
    except InfluxUnavailable as exc:
        raise HTTPException(status_code=503, detail=f"time-series store unavailable: {exc}") from exc
    return DeviceLatest(device=DevicePublic(**asdict(device)), values=values, last_uplink=radio)  # type: ignore[arg-type]
