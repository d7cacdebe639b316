"""``/v1/devices``: registered devices, their health and their newest values.

The device registry is synchronous (SQLAlchemy); every call to it runs in the thread pool, never on the event
loop, so one slow database query does not stall the other requests.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from api.cache import TtlCache
from api.deps import InfluxDep, PrincipalDep, RegistryDep
from api.lookups import health_of, visible_device, visible_devices
from api.models import DeviceDetail, DeviceHealth, DeviceLatest, DevicePublic, DevicesPublic
from api.problems import Problem, responses
from api.queries import (
    last_seen_query,
    latest_uplink_query,
    latest_values_query,
    parse_last_seen,
    parse_latest,
    parse_uplink,
)
from devices.catalog import get_model
from devices.records import DeviceInfo
from stadtpuls.influx import InfluxClient, InfluxUnavailable

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=responses(401, 422, 429))

NameFilter = Annotated[str | None, Query(max_length=200, description="Only this one (exact name)")]
DevEui = Annotated[str, Path(max_length=64, description="The device's DevEUI (16 hex digits)")]


@router.get("", response_model=DevicesPublic)
async def list_devices(
    principal: PrincipalDep, registry: RegistryDep, municipality: NameFilter = None, site: NameFilter = None
) -> DevicesPublic:
    """The registered devices the key may see, optionally of one municipality or site."""
    found = await visible_devices(registry, principal, municipality=municipality, site=site)
    devices = [DevicePublic(**asdict(d)) for d in found]
    return DevicesPublic(data=devices, count=len(devices))


@router.get("/{dev_eui}", response_model=DeviceDetail, responses=responses(404, 503))
async def get_device(
    dev_eui: DevEui, principal: PrincipalDep, registry: RegistryDep, influx: InfluxDep
) -> DeviceDetail:
    """One device with its health (status and newest uplink)."""
    device = await visible_device(registry, principal, dev_eui, param="dev_eui")
    try:
        seen = parse_last_seen(await influx.query(last_seen_query(None, device.dev_eui)))
    except InfluxUnavailable as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    health = health_of(device, seen.get(device.dev_eui), time.time_ns())
    return DeviceDetail(**asdict(device), health=DeviceHealth(**health))  # type: ignore[arg-type]


@router.get("/{dev_eui}/latest", response_model=DeviceLatest, responses=responses(404, 503))
async def latest(
    dev_eui: DevEui, principal: PrincipalDep, registry: RegistryDep, influx: InfluxDep, request: Request
) -> Response:
    """The device's newest value of each quantity, with its time (at most a few seconds old)."""
    devices: TtlCache[str, DeviceInfo | None] = request.app.state.device_cache
    answers: TtlCache[tuple[str, str], bytes] = request.app.state.latest_cache
    device = await visible_device(registry, principal, dev_eui, param="dev_eui", cache=devices)
    body = await answers.fetch((device.dev_eui, device.municipality), lambda: _latest_body(influx, device))
    return Response(body, media_type="application/json")


async def _latest_body(influx: InfluxClient, device: DeviceInfo) -> bytes:
    """The answer of :func:`latest`, serialized: the newest values and the newest radio record, read at once."""
    quantities = get_model(device.model).quantities
    try:
        values, radio = await asyncio.gather(
            influx.query(latest_values_query(device.dev_eui, quantities)),
            influx.query(latest_uplink_query(device.dev_eui)),
        )
    except InfluxUnavailable as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    answer = DeviceLatest(
        device=DevicePublic(**asdict(device)),
        values=parse_latest(values),  # type: ignore[arg-type]
        last_uplink=parse_uplink(radio),  # type: ignore[arg-type]
    )
    return answer.model_dump_json().encode()
