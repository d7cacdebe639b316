"""``/health``: can the API reach what it reads, InfluxDB and its registry database?

Anyone may ask (compose and load balancers do, without a key) and learns only ``ok`` or not per check. What was
found (addresses, versions, error texts) is shown to technician and admin keys only: an internal address or a
driver's error message tells an outsider more than it should. The API does not use the MQTT broker, so it does
not check it; ingest reports its own connection on ``/readyz`` (docs/ingest.md).
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from api.deps import CallerDep, InfluxDep, RegistryDep
from api.keys import Role
from api.models import Check, Health
from devices.registry import DeviceRegistry
from stadtpuls.influx import InfluxClient, InfluxError

router = APIRouter(tags=["health"])
CHECK_TIMEOUT = 3.0  # s per check


async def _influx_check(influx: InfluxClient) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            version = await influx.ping()
            found = await influx.database_exists()
    except TimeoutError:
        return Check(ok=False, detail=f"InfluxDB at {influx.url} did not answer within {CHECK_TIMEOUT:g} s")
    except InfluxError as exc:
        return Check(ok=False, detail=str(exc))
    if not found:
        return Check(ok=False, detail=f"InfluxDB {version} at {influx.url} has no database {influx.database!r} "
                                      "this account can read")
    return Check(ok=True, detail=f"InfluxDB {version} at {influx.url}, database {influx.database!r}")


async def _registry_check(registry: DeviceRegistry) -> Check:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            municipalities = await run_in_threadpool(registry.municipalities)
    except TimeoutError:
        return Check(ok=False, detail=f"the registry database did not answer within {CHECK_TIMEOUT:g} s")
    except SQLAlchemyError as exc:
        return Check(ok=False, detail=f"the registry database failed: {type(exc).__name__}: {exc}"[:500])
    return Check(ok=True, detail=f"the registry database answers ({len(municipalities)} municipalities)")


@router.get("/health", response_model=Health, response_model_exclude_none=True)
async def health(
    influx: InfluxDep, registry: RegistryDep, caller: CallerDep, response: Response
) -> Health:
    """200 when InfluxDB and the registry database answer, 503 otherwise. Technician and admin keys also see
    what each check found.
    """
    store, relational = await asyncio.gather(_influx_check(influx), _registry_check(registry))
    checks = {"influxdb": store, "registry": relational}
    healthy = all(c.ok for c in checks.values())
    if not healthy:
        response.status_code = 503
    if not caller.may(Role.TECHNICIAN):
        checks = {name: Check(ok=c.ok) for name, c in checks.items()}
    return Health(status="ok" if healthy else "unavailable", checks=checks)
