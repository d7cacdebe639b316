"""The FastAPI application; the lifespan owns the long-lived clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.routes import devices, health, technician_devices, technician_health, technician_page
from devices.registry import DeviceRegistry
from stadtpuls import __version__
from stadtpuls.influx import InfluxClient
from stadtpuls.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for ``settings`` (default: from the environment)."""
    config = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = config
        app.state.registry = await run_in_threadpool(DeviceRegistry, config.registry_url)  # opens, migrates
        app.state.influx = InfluxClient.from_settings(config.influx)
        try:
            yield
        finally:
            await app.state.influx.close()

    app = FastAPI(title="Stadtpuls API", version=__version__, lifespan=lifespan)
    app.include_router(health.router)
    app.include_router(devices.router)
    app.include_router(technician_devices.router)
    app.include_router(technician_health.router)
    app.include_router(technician_page.router)
    return app
