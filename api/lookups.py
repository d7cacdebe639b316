"""Registry reads for the routes, in the thread pool and scoped to what the caller may see."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from api.auth import Principal
from api.cache import TtlCache
from api.problems import Problem
from api.queries import ParamError, format_time
from devices.catalog import get_model
from devices.records import DeviceInfo
from devices.registry import DeviceRegistry, RegistryError, normalise_dev_eui
from stadtpuls.influx import InfluxClient, InfluxRejected, InfluxUnavailable

OFFLINE_AFTER = 1.5  # heartbeat intervals without an uplink
NS = 1_000_000_000


async def visible_devices(
    registry: DeviceRegistry, principal: Principal, *, municipality: str | None = None, site: str | None = None
) -> list[DeviceInfo]:
    """The devices the caller may see, optionally of one municipality and site (another's: none)."""
    scope, visible = principal.scope(municipality)
    if not visible:
        return []
    return await run_in_threadpool(registry.list, municipality=scope, site=site)


async def visible_device(
    registry: DeviceRegistry,
    principal: Principal,
    dev_eui: str,
    *,
    param: str,
    cache: TtlCache[str, DeviceInfo | None] | None = None,
) -> DeviceInfo:
    """The device, if the caller may see it: 422 for a malformed DevEUI, 404 for unknown or another's.

    With ``cache``, a registry answer is reused for the cache's time; the caller's scope is checked every time.
    """
    try:
        eui = normalise_dev_eui(dev_eui)
    except RegistryError as exc:
        raise Problem(422, str(exc), param=param) from exc
    device = cache.get(eui) if cache is not None else None
    if device is None:
        device = await run_in_threadpool(registry.get, eui)
        if cache is not None:
            cache.put(eui, device)
    if device is None or not principal.sees(device.municipality):
        raise Problem(404, f"device {eui} is not registered", param=param)
    return device


def health_of(device: DeviceInfo, last_seen_ns: int | None, now_ns: int) -> dict[str, str | None]:
    """Status and last uplink of a device: offline after 1.5 heartbeat intervals without an uplink."""
    if last_seen_ns is None:
        return {"status": "never_seen", "last_seen": None}
    spec = get_model(device.model)
    interval = spec.heartbeat_interval or spec.report_interval
    quiet = now_ns - last_seen_ns
    offline = bool(interval) and quiet > OFFLINE_AFTER * interval * NS
    return {"status": "offline" if offline else "online", "last_seen": format_time(last_seen_ns)}


async def query(influx: InfluxClient, influxql: str) -> list[dict[str, Any]]:
    """Run one query; 503 when InfluxDB is unreachable. A missing retention policy (processing has not run
    yet) is no data.
    """
    try:
        return await influx.query(influxql)
    except InfluxUnavailable as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    except InfluxRejected as exc:
        if "retention policy not found" in exc.message:
            return []
        raise Problem(422, f"the query was refused: {exc.message}") from exc


def param_problem(exc: ParamError) -> Problem:
    """The 422 answer for an invalid parameter."""
    return Problem(422, str(exc), param=exc.param, reason=exc.message)
