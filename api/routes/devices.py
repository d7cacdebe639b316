"""``/v1/devices``: registered devices and their newest values.

The device registry is synchronous (SQLAlchemy); every call to it runs in the thread pool, never on the event
loop, so one slow database query does not stall the other requests.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from api.deps import InfluxDep, RegistryDep
from api.models import DeviceLatest, DevicePublic, DevicesPublic
from api.queries import latest_uplink_query, latest_values_query, parse_latest, parse_uplink
from devices.catalog import get_model
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry, RegistryError
from stadtpuls.influx import InfluxUnavailable

router = APIRouter(prefix="/v1/devices", tags=["devices"])

NameFilter = Annotated[str | None, Query(max_length=200)]


@router.get("", response_model=DevicesPublic)
async def list_devices(
    registry: RegistryDep, municipality: NameFilter = None, site: NameFilter = None
) -> DevicesPublic:
    """All registered devices, optionally of one municipality or site."""
    found = await run_in_threadpool(registry.list, municipality=municipality, site=site)
    devices = [DevicePublic(**asdict(d)) for d in found]
    return DevicesPublic(data=devices, count=len(devices))


@router.get("/{dev_eui}/latest", response_model=DeviceLatest)
async def latest(dev_eui: str, registry: RegistryDep, influx: InfluxDep) -> DeviceLatest:
    """The device's newest value of each quantity, with its time."""
    device = await _registered(registry, dev_eui)
    quantities = get_model(device.model).quantities
    try:
        values = parse_latest(await influx.query(latest_values_query(device.dev_eui, quantities)))
        radio = parse_uplink(await influx.query(latest_uplink_query(device.dev_eui)))
    except InfluxUnavailable as exc:
        raise HTTPException(status_code=503, detail=f"time-series store unavailable: {exc}") from exc
    return DeviceLatest(device=DevicePublic(**asdict(device)), values=values, last_uplink=radio)  # type: ignore[arg-type]


async def _registered(registry: DeviceRegistry, dev_eui: str) -> DeviceInfo:
    """The registered device; 422 for a malformed DevEUI, 404 for an unknown one."""
    try:
        device = await run_in_threadpool(registry.get, dev_eui)
    except RegistryError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from exc
    if device is None:
        raise HTTPException(status_code=404, detail=f"device {dev_eui} is not registered")
    return device
