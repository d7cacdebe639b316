"""``/v1/technician/health`` and ``/v1/technician/alarms``: how the caller's devices are doing."""

from __future__ import annotations

from dataclasses import asdict
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.deps import InfluxDep, RegistryDep, SettingsDep
from api.problems import Problem, responses
from api.technician import AlarmPublic, HealthPublic, TechnicianDep
from devices.alarms import AlarmInfo, AlarmStore, check
from devices.health import DeviceHealth, read_health
from devices.records import Status
from stadtpuls.influx import InfluxClient, InfluxError
from stadtpuls.settings import Settings

router = APIRouter(prefix="/v1/technician", tags=["technician"], responses=responses(401, 403, 422, 429))


@lru_cache(maxsize=4)
def _store(url: str) -> AlarmStore:
    return AlarmStore(url)


def alarm_store(settings: Settings) -> AlarmStore:
    """The alarm store of the registry database (one per URL)."""
    return _store(settings.registry_url)


def health_public(health: DeviceHealth) -> HealthPublic:
    """The API record of a device's health."""
    return HealthPublic(**asdict(health), loss_24h=health.loss_24h)


def alarm_public(alarm: AlarmInfo) -> AlarmPublic:
    """The API record of an alarm."""
    return AlarmPublic(**asdict(alarm))


@router.get("/health", response_model=list[HealthPublic], responses=responses(503))
async def health(principal: TechnicianDep, registry: RegistryDep, influx: InfluxDep) -> list[HealthPublic]:
    """The health of every installed or active device of the caller's municipality."""
    devices = await run_in_threadpool(registry.list, municipality=principal.municipality)
    judged = [d for d in devices if d.status in (Status.INSTALLED, Status.ACTIVE)]
    try:
        found = await read_health(influx, judged)
    except InfluxError as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    return [health_public(found[d.dev_eui]) for d in judged]


@router.get("/alarms", response_model=list[AlarmPublic])
async def alarms(
    principal: TechnicianDep, settings: SettingsDep, include_cleared: Annotated[
        bool, Query(description="Also the cleared alarms (by default only the open ones)")
    ] = False
) -> list[AlarmPublic]:
    """The alarms of the caller's municipality, newest first (open ones; all with ``include_cleared``)."""
    found = await run_in_threadpool(
        alarm_store(settings).list, municipality=principal.municipality, include_cleared=include_cleared
    )
    return [alarm_public(a) for a in found]


@router.post("/alarms/check", response_model=list[AlarmPublic], responses=responses(503))
async def check_now(principal: TechnicianDep, settings: SettingsDep, registry: RegistryDep) -> list[AlarmPublic]:
    """Judge the caller's devices now (as the periodic job does) and return their open alarms."""
    store = alarm_store(settings)

    def run() -> list[AlarmInfo]:
        import asyncio

        async def judge() -> None:
            async with InfluxClient.from_settings(settings.influx) as influx:
                await check(registry, store, influx, municipality=principal.municipality)

        asyncio.run(judge())
        return store.list(municipality=principal.municipality)

    try:
        found = await run_in_threadpool(run)
    except InfluxError as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    return [alarm_public(a) for a in found]
