"""``/v1/open``: sites and devices as GeoJSON, with the licence and attribution of the data.

Served without a key when ``STADTPULS_API_PUBLIC`` is on (then for every municipality); with a key, for what
the key may see. Devices carry their status and the newest values of public quantities only.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from api.deps import InfluxDep, OpenDataDep, RegistryDep, SettingsDep
from api.lookups import health_of, visible_devices
from api.models import Feature, FeatureCollection, Geometry
from api.problems import Problem, responses
from api.queries import last_seen_query, latest_by_device_query, parse_last_seen, parse_latest_by_device
from api.routes.places import site_records
from devices.catalog import get_model
from stadtpuls.influx import InfluxUnavailable
from stadtpuls.settings import Settings

router = APIRouter(prefix="/v1/open", tags=["open data"], responses=responses(401, 429, 503))

# what may be shown to anyone: no battery, radio or position readings of a device
PUBLIC_QUANTITIES = frozenset(
    {"occupied", "temperature", "humidity", "pressure", "pm1_0", "pm2_5", "pm10", "no2", "o3", "no", "co", "co2"}
)


def _geometry(lat: float | None, lon: float | None) -> Geometry | None:
    if lat is None or lon is None:
        return None
    return Geometry(type="Point", coordinates=[lon, lat])


def _collection(features: list[Feature], settings: Settings) -> FeatureCollection:
    return FeatureCollection(
        type="FeatureCollection", features=features, licence=settings.api.licence,
        attribution=settings.api.attribution,
    )


@router.get("/sites", response_model=FeatureCollection)
async def open_sites(principal: OpenDataDep, registry: RegistryDep, settings: SettingsDep) -> FeatureCollection:
    """Every site as a GeoJSON point (the mean position of its devices), with its device classes."""
    found = site_records(await visible_devices(registry, principal))
    features = [
        Feature(
            type="Feature", id=f"{s.municipality}/{s.site}", geometry=_geometry(s.lat, s.lon),
            properties={"municipality": s.municipality, "site": s.site, "classes": s.classes, "devices": s.devices},
        )
        for s in found
    ]
    return _collection(features, settings)


@router.get("/devices", response_model=FeatureCollection)
async def open_devices(
    principal: OpenDataDep, registry: RegistryDep, influx: InfluxDep, settings: SettingsDep
) -> FeatureCollection:
    """Every device as a GeoJSON point with its class, status and newest public values."""
    devices = await visible_devices(registry, principal)
    quantities = {q for d in devices for q in get_model(d.model).quantities} & PUBLIC_QUANTITIES
    try:
        seen = parse_last_seen(await influx.query(last_seen_query(principal.municipality)))
        latest = (
            parse_latest_by_device(await influx.query(latest_by_device_query(quantities, principal.municipality)))
            if quantities else {}
        )
    except InfluxUnavailable as exc:
        raise Problem(503, f"time-series store unavailable: {exc}") from exc
    now = time.time_ns()
    features = []
    for d in devices:
        properties: dict[str, Any] = {
            "name": d.name, "municipality": d.municipality, "site": d.site, "class": d.device_class,
            "model": d.model, **health_of(d, seen.get(d.dev_eui), now),
            "latest": latest.get(d.dev_eui, []),
        }
        features.append(Feature(type="Feature", id=d.dev_eui, geometry=_geometry(d.lat, d.lon),
                                properties=properties))
    return _collection(features, settings)
