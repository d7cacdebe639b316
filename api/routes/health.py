"""``/health``: is every dependency reachable?"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Response

from api.deps import InfluxDep, SettingsDep
from api.models import Check, Health
from stadtpuls.influx import InfluxError
from stadtpuls.mqttcheck import mqtt_reachable

router = APIRouter(tags=["health"])


async def _influx_check(influx: InfluxDep) -> Check:
    try:
        version = await influx.ping()
    except InfluxError as exc:
        return Check(ok=False, detail=str(exc))
    return Check(ok=True, detail=f"InfluxDB {version} at {influx.url}")


@router.get("/health", response_model=Health)
async def health(settings: SettingsDep, influx: InfluxDep, response: Response) -> Health:
    """200 when the broker and InfluxDB answer, 503 otherwise; each check says what it found."""
    broker, store = await asyncio.gather(mqtt_reachable(settings.mqtt.target), _influx_check(influx))
    checks = {"mqtt": Check(ok=broker[0], detail=broker[1]), "influxdb": store}
    healthy = all(c.ok for c in checks.values())
    if not healthy:
        response.status_code = 503
    return Health(status="ok" if healthy else "unavailable", checks=checks)
