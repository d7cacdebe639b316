"""The FastAPI application; the lifespan owns the long-lived clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from api import problems
from api.auth import KeyCache, RateLimiter
from api.cache import TtlCache
from api.deps import KEY_HEADER
from api.keys import KeyStore
from api.models import ProblemDetails
from api.routes import (
    air,
    devices,
    footfall,
    health,
    keys,
    opendata,
    parking,
    places,
    reports,
    technician_devices,
    technician_health,
    technician_page,
    timeseries,
)
from devices.registry import DeviceRegistry
from stadtpuls import __version__
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings, get_settings

DESCRIPTION = f"""Data of the town's sensors: devices, sites, latest values, time series and open data.

Every route needs an API key in the `{KEY_HEADER}` header (from `stadtpuls keys create`), except `/health` and,
when the server enables them, the open-data routes. A key of one municipality sees only that municipality.
Times are RFC 3339 with their zone; errors are `application/problem+json` naming the parameter at fault.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment)."""
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = config
        app.state.registry = await run_in_threadpool(DeviceRegistry, config.registry_url)  # opens, migrates
        app.state.keys = await run_in_threadpool(KeyStore, config.registry_url)
        app.state.key_cache = KeyCache(app.state.keys, ttl=config.api.key_cache_seconds)
        app.state.rate_limiter = RateLimiter(config.api.rate_limit, config.api.rate_burst)
        app.state.influx = InfluxClient.from_settings(config.influx)
        app.state.device_cache = TtlCache(config.api.cache_seconds)
        app.state.latest_cache = TtlCache(config.api.cache_seconds)
        try:
            yield
        finally:
            await app.state.influx.close()

    app = FastAPI(title="Stadtpuls API", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    problems.install(app)
    if config.api.origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=config.api.origins, allow_methods=["GET", "DELETE"],
            allow_headers=[KEY_HEADER], expose_headers=["Link", "Retry-After"],
        )
    for router in (health.router, keys.whoami_router, places.municipalities, places.sites, devices.router,
                   timeseries.router, parking.router, footfall.router, air.router, opendata.router, keys.router,
                   technician_devices.router, technician_health.router, technician_page.router, reports.router):
        app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the problem+json schema every error answer refers to."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(problem.pop("$defs", {}))
    components["ProblemDetails"] = problem
    app.openapi_schema = schema
    return schema
